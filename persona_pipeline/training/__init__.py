"""LoRA training of the CoreSelf and SportMind adapters, MLflow tracking and the model registry."""
