"""Background tasks: a durable record per task and a queue that runs handlers by kind."""
