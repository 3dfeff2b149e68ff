from tests.integration.orders_read.support import clean_views, eager_tasks, manual_projections  # noqa: F401
