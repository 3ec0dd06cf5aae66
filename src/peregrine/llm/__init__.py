"""Every model call goes through ``router.LLMRouter``: the one door to any LLM."""
