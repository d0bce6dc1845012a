"""Import jobs, their uploaded chunks, rejected rows and remembered mappings in the store."""

from __future__ import annotations

from bson import ObjectId

from services.segments.models import ImportChunk, ImportJob, ImportMapping, ImportRejection
from shared.http.paging import page
from shared.store import utcnow


def _chunk_id(job_id, n: int) -> str:
    return f"{job_id}:{n:06d}"


# --- jobs -------------------------------------------------------------------------


def new_job(**fields) -> ImportJob:
    return ImportJob(**fields).save()


def find_job(job_id) -> ImportJob | None:
    return ImportJob.objects(id=job_id).first()


def set_job_fields(job_id, fields: dict) -> None:
    ImportJob._get_collection().update_one({"_id": job_id}, {"$set": fields})


def reloaded(job: ImportJob) -> ImportJob:
    """The job as stored now."""
    job.reload()
    return job


def mark_started(job_id) -> None:
    ImportJob.objects(id=job_id).update_one(set__started_at=utcnow())


def queue_mapped(job_id, mapping: dict) -> bool:
    """Store the mapping and queue a job waiting for it; False when it was not waiting anymore."""
    claimed = ImportJob._get_collection().update_one(
        {"_id": job_id, "status": "mapping"}, {"$set": {"mapping": mapping, "status": "queued"}}
    )
    return claimed.matched_count == 1


def page_jobs(limit: int, after: ObjectId | None) -> tuple[list[ImportJob], int, str | None]:
    """Import jobs, newest first: (jobs, total, next cursor)."""
    rows, total, following = page(
        ImportJob._get_collection(), {}, limit, after, {"_id": 1}, newest_first=True
    )
    jobs = {j.id: j for j in ImportJob.objects(id__in=[r["_id"] for r in rows])}
    return [jobs[r["_id"]] for r in rows if r["_id"] in jobs], total, following


def discard_job(job_id) -> None:
    """Forget an upload that did not complete: the job and whatever chunks it stored."""
    delete_chunks(job_id)
    ImportJob.objects(id=job_id).delete()


# --- the uploaded file, in chunks ---------------------------------------------------


def add_chunk(job_id, n: int, data: bytes) -> None:
    ImportChunk._get_collection().insert_one({"_id": _chunk_id(job_id, n), "data": data})


def chunk(job_id, n: int) -> bytes | None:
    doc = ImportChunk._get_collection().find_one({"_id": _chunk_id(job_id, n)})
    return None if doc is None else bytes(doc["data"])


def set_upload_size(job_id, size: int, chunks: int) -> None:
    ImportJob.objects(id=job_id).update_one(set__size=size, set__chunks=chunks)


def delete_chunks(job_id) -> None:
    ImportChunk._get_collection().delete_many({"_id": {"$regex": f"^{job_id}:"}})


# --- rejected rows --------------------------------------------------------------------


def add_rejections(rows: list[dict]) -> None:
    ImportRejection._get_collection().insert_many(rows, ordered=False)


def forget_rejections_after(job_id, line: int) -> None:
    """Rejections a batch interrupted before its checkpoint reported (redone on resuming)."""
    ImportRejection._get_collection().delete_many({"job_id": job_id, "row": {"$gt": line}})


def page_rejections(job_id, limit: int, after: ObjectId | None):
    return page(ImportRejection._get_collection(), {"job_id": job_id}, limit, after)


def rejections_after(job_id, after, limit: int) -> list:
    """The next ``limit`` rejections of the job in the order they were written."""
    query = {"job_id": job_id} if after is None else {"$and": [{"job_id": job_id}, {"_id": {"$gt": after}}]}
    return list(ImportRejection._get_collection().find(query).sort("_id", 1).limit(limit))


# --- remembered mappings ---------------------------------------------------------------


def saved_mapping(signature: str) -> dict | None:
    saved = ImportMapping.objects(id=signature).first()
    return None if saved is None else dict(saved.mapping)


def remember_mapping(signature: str, mapping: dict) -> None:
    ImportMapping._get_collection().update_one(
        {"_id": signature}, {"$set": {"mapping": mapping, "updated_at": utcnow()}}, upsert=True
    )
