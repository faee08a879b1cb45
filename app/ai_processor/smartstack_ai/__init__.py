"""SmartStack's AI processor: SQS jobs in, model output into PostgreSQL ``ai_results``."""
