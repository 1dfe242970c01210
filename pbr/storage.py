"""Private storage for evidence files: it has no public URL at all."""

from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    def url(self, name):
        # Evidence is only ever served through a permission-checked view; a URL would bypass it.
        raise NotImplementedError("Evidence files have no public URL; serve them through a view.")
