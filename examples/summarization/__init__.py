"""The summarisation example: extractive summaries of generated news scored with ROUGE."""
