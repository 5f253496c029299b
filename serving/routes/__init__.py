"""One APIRouter per resource: scans, the model, health and metrics."""
