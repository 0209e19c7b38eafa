"""Jobs on a Ray cluster: GPU workers that hold a loaded engine, and a client that is one more `JobClient`.

    connect     Ray present? the address and the token; one connection per process (pure Python + ray)
    messages    what crosses between a client and a worker: the job with its media bytes, the result files
    worker      the Ray actor: a loaded Engine, jobs on a thread, events kept for the client's long poll
    serve       `python -m pusa_engine serve --cluster ADDRESS --model DIR ...`: the workers of one machine
    client      `ClusterClient`: a JobClient for one worker (the window and the batch command use it)
    scheduling  the rules a queue follows over several engines (which one is free, retry once when lost)
    batch       `python -m pusa_engine batch JOBS.jsonl [--cluster ADDRESS] --out-dir DIR`

The client side (connect, messages, client, scheduling) never imports torch: the window uses it.
"""

NAMESPACE = "pusa-studio"  # the Ray namespace our workers are named in
WORKER_PREFIX = "pusa-worker:"  # a worker's actor name is this plus the worker's own name
