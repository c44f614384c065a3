"""Files the draw trusts: one writer for private and public files."""

from drawkit.store.files import private_dir, write_private, write_public

__all__ = ["private_dir", "write_private", "write_public"]
