"""Command handlers: one per command, each loads, lets the aggregates decide, and saves once.

Every handler puts all the streams it touched into one `repo.save`, so an order and
the stock it reserves (or releases, or ships) change together or not at all. Who may
act on an order is decided here, because only a loaded order knows its customer:
someone else's order is "not found", never "forbidden".
"""

from decimal import Decimal

from orders_write.aggregates import Order, Product
from orders_write.aggregates.order import PricedItem
from orders_write.commands import (
    AddOrderItem,
    CancelOrder,
    ChangePrice,
    Command,
    CommandResult,
    CreateOrder,
    ReceiveStock,
    RegisterProduct,
    ShipOrder,
)
from orders_write.errors import CustomerMismatch, Forbidden, NotFound
from orders_write.repository import Change, Repository


def register_product(cmd: RegisterProduct, repo: Repository) -> CommandResult:
    product = repo.get(Product, cmd.sku)
    events = product.register(
        name=cmd.name, description=cmd.description, price=cmd.price, initial_stock=cmd.initial_stock
    )
    return repo.save([(product, events)], target=product, created=True)


def receive_stock(cmd: ReceiveStock, repo: Repository) -> CommandResult:
    product = _existing_product(cmd, repo, cmd.sku)
    return repo.save([(product, product.receive(quantity=cmd.quantity))], target=product)


def change_price(cmd: ChangePrice, repo: Repository) -> CommandResult:
    product = _existing_product(cmd, repo, cmd.sku)
    return repo.save([(product, product.change_price(price=cmd.price))], target=product)


def create_order(cmd: CreateOrder, repo: Repository) -> CommandResult:
    """Open the order and reserve every product in the same append (one reservation per product)."""
    if cmd.customer_id != cmd.metadata.user and not cmd.metadata.is_staff:
        raise CustomerMismatch()
    order = repo.new(Order, cmd.order_id)  # a server-made uuid: no stream to read
    wanted: dict[str, int] = {}
    for line in cmd.items:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    products = repo.get_many(Product, list(wanted))  # reserve() refuses an unregistered one: unknown_product
    changes: list[Change] = [
        (products[sku], products[sku].reserve(order_id=order.id, quantity=qty)) for sku, qty in wanted.items()
    ]
    items = [_priced(products[line.product_id], line.quantity) for line in cmd.items]
    events = order.create(customer_id=cmd.customer_id, shipping_address=cmd.shipping_address, items=items)
    return repo.save([(order, events), *changes], target=order, created=True)


def add_order_item(cmd: AddOrderItem, repo: Repository) -> CommandResult:
    order = _own_order(cmd, repo, cmd.order_id)
    product = repo.get(Product, cmd.product_id)
    order_events = order.add_item(_priced(product, cmd.quantity))  # refuses a non-pending order first
    stock_events = product.reserve(order_id=order.id, quantity=cmd.quantity)  # then unknown product, stock
    return repo.save([(order, order_events), (product, stock_events)], target=order)


def cancel_order(cmd: CancelOrder, repo: Repository) -> CommandResult:
    """Release the stock in the same append as the cancellation, so reservations cannot leak."""
    order = _own_order(cmd, repo, cmd.order_id)
    changes: list[Change] = [(order, order.cancel(reason=cmd.reason, by=cmd.metadata.user))]
    quantities = order.quantities()
    products = repo.get_many(Product, list(quantities))
    for sku, quantity in quantities.items():
        changes.append((products[sku], products[sku].release(order_id=order.id, quantity=quantity)))
    return repo.save(changes, target=order)


def ship_order(cmd: ShipOrder, repo: Repository) -> CommandResult:
    """Take the reserved units out of the warehouse with the order (staff only)."""
    order = _own_order(cmd, repo, cmd.order_id)
    if not cmd.metadata.is_staff:
        raise Forbidden("Only staff can ship orders.")
    changes: list[Change] = [(order, order.ship(by=cmd.metadata.user))]
    quantities = order.quantities()
    products = repo.get_many(Product, list(quantities))
    for sku, quantity in quantities.items():
        changes.append((products[sku], products[sku].ship(order_id=order.id, quantity=quantity)))
    return repo.save(changes, target=order)


def _existing_product(cmd: Command, repo: Repository, sku: str) -> Product:
    product = repo.get(Product, sku)
    if not product.registered:
        raise NotFound(f"Product {sku!r} does not exist.")
    repo.expect(product, cmd.expected_version)
    return product


def _own_order(cmd: Command, repo: Repository, order_id: str) -> Order:
    """The order if it exists and the user may see it; anything else is the same 404."""
    order = repo.get(Order, order_id)
    if not order.exists or (order.customer_id != cmd.metadata.user and not cmd.metadata.is_staff):
        raise NotFound(f"Order {order_id} not found.")
    repo.expect(order, cmd.expected_version)
    return order


def _priced(product: Product, quantity: int) -> PricedItem:
    """A line at the catalogue price of this moment; a client's price is never used."""
    return PricedItem(product.id, product.name, quantity, Decimal(product.price))
