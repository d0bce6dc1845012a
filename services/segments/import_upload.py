"""An uploaded import file in the store: copied in chunks as it arrives (so any api
replica can take it and any worker replica can process it), read back as a stream
one chunk in memory at a time."""

from __future__ import annotations

import io

from services.segments.errors import TooLarge
from services.segments.import_rows import FileError
from services.segments.models import ImportJob
from services.segments.store import imports as import_store


def store_upload(job: ImportJob, stream, chunk_bytes: int, max_bytes: int) -> int:
    """Copy ``stream`` into chunks of ``chunk_bytes``; returns the size."""
    size = n = 0
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            break
        size += len(data)
        if size > max_bytes:
            import_store.delete_chunks(job.id)
            raise TooLarge(f"the file is larger than {max_bytes} bytes")
        import_store.add_chunk(job.id, n, data)
        n += 1
    import_store.set_upload_size(job.id, size, n)
    return size


class ChunkReader(io.RawIOBase):
    """The stored upload as a read-only byte stream, one chunk in memory at a time."""

    def __init__(self, job: ImportJob):
        self.job_id, self.chunks = job.id, job.chunks
        self.n = 0
        self.buffer = b""
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer and self.n < self.chunks:
            data = import_store.chunk(self.job_id, self.n)
            if data is None:
                raise FileError("file_chunk", n=self.n)
            self.buffer = data
            self.n += 1
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        self.position += size
        return size
