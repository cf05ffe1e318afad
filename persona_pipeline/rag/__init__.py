"""The Knowledge half: chunking, embedding, the index, retrieval and its evaluation."""
