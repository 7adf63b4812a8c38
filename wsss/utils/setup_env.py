"""Registration of every wsss and mmseg module, as mmseg's register_all_modules does."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the modules that fill the registries and, optionally, make ``wsss`` the default
    scope so that configs build wsss, mmseg and mmengine components by type name."""
    import mmseg.visualization  # noqa: F401  (mmseg's own registration skips it)
    from mmseg.utils import register_all_modules as register_mmseg

    import wsss.datasets  # noqa: F401
    import wsss.engine  # noqa: F401
    import wsss.evaluation  # noqa: F401
    import wsss.models  # noqa: F401

    from .checkpoint import install_checkpoint_loader
    register_mmseg(init_default_scope=False)
    install_checkpoint_loader()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'wsss':
        if current is not None:
            warnings.warn(f'the default scope was {current.scope_name!r}; wsss is used instead')
        # mmengine keys instances by name; a new name per call avoids clashing with an old one.
        DefaultScope.get_instance(f'wsss-{datetime.datetime.now()}', scope_name='wsss')
