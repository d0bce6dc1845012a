"""Import jobs (filled in next)."""


def run_import(settings, job, owner):
    raise NotImplementedError
