"""Looking at results: the report page of evaluations, their comparison table, training
curves from the JSON logs."""
