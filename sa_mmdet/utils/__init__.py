from .config_package import register_config_package
from .torchvision_stub import install_torchvision_stub, remove_torchvision_stub

__all__ = ['install_torchvision_stub', 'register_config_package', 'remove_torchvision_stub']
