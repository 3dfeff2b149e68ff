"""Domain errors of the write side: each has a machine-readable `code` and no HTTP.

config/exception_handler.py maps them to status codes in one table.
"""

from typing import Any, ClassVar


class DomainError(Exception):
    """A business rule refused the command; nothing was appended."""

    code: ClassVar[str] = "domain_error"
    default_detail: ClassVar[str] = "The command was refused."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    """The command names a stream that does not exist (404, not 422)."""

    code = "not_found"
    default_detail = "Not found."


class Forbidden(DomainError):
    """The user's role may not run this command at all (a customer shipping an order)."""

    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class CustomerMismatch(DomainError):
    """A customer placed an order for another customer_id: a broken rule of the command table (422, API.md)."""

    code = "customer_mismatch"
    default_detail = "Customers can only place orders for themselves."


class AlreadyExists(DomainError):
    code = "already_exists"
    default_detail = "It already exists."


class UnknownProduct(DomainError):
    code = "unknown_product"
    default_detail = "The order names a product that does not exist."


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    default_detail = "Not enough stock available."


class OrderNotPending(DomainError):
    code = "order_not_pending"
    default_detail = "The order is no longer pending."


class TooManyLines(DomainError):
    """The order already has the most lines one order may have (orders_write/limits.py)."""

    code = "too_many_lines"
    default_detail = "The order has as many lines as an order may have."


class StockLimitExceeded(DomainError):
    """The receipt would take the product's units on hand past the most one product may hold."""

    code = "stock_limit_exceeded"
    default_detail = "The product would hold more units than a product may hold."


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request."


class RequestInProgress(DomainError):
    code = "request_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed."


class ConcurrencyConflict(DomainError):
    """The stream kept changing under the bus's retries (no If-Match was sent)."""

    code = "concurrency_conflict"
    default_detail = "The resource was changed concurrently; try again."


class VersionMismatch(DomainError):
    """The client's If-Match names a version the stream is no longer (or not yet) at."""

    code = "version_mismatch"
    default_detail = "The resource is not at the version given in If-Match."


class InconsistentRead(ValueError):
    """Aggregates one command loaded disagree: another command committed between their loads.

    An order read before a concurrent cancel and its products read after it hold
    different stories (the order still reserves what its products already released).
    Not a refusal and not a bug: the bus treats it as a lost race and decides again
    from a fresh load, where the other command's effect is visible everywhere.
    """
