"""Text pipelines: corpora, tokenizer, tagging, masked language models, bitext mining."""
