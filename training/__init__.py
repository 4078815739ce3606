"""Training side of eventclf: base model preparation, data, fine-tuning, evaluation, export, CLI."""
