"""The models: the frozen base model, LoRA adapter naming and flat layout, the tiny test tokenizer."""
