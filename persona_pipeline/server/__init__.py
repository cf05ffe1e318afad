"""`persona serve`: the consilium behind the OpenAI chat-completions protocol, a chat page and a feedback store."""
