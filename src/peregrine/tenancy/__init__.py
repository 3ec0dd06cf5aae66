"""Who is asking, and which database is theirs."""
