"""The Python SDK against a live Malha (sdk/run-tests starts it and sets
MALHA_URL); every call goes through the SDK."""

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from malha.identity.v1 import identity_pb2, identity_pb2_grpc
from malha.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from malha.orders.v1 import orders_pb2, orders_pb2_grpc
from malha.payments.v1 import payments_pb2, payments_pb2_grpc
from malha.projects.v1 import projects_pb2, projects_pb2_grpc
from malha_sdk import ClientCredentials, MalhaClient, MalhaError, Password, Tokens, connect

URL = os.environ.get("MALHA_URL", "")
ADMIN = Password(os.environ.get("MALHA_ADMIN_USERNAME", ""), os.environ.get("MALHA_ADMIN_PASSWORD", ""))


@pytest.fixture
def dial():
    assert URL, "MALHA_URL is not set: run these tests with sdk/run-tests, which starts Malha"
    opened: list[MalhaClient] = []

    def open_client(**options) -> MalhaClient:
        client = connect(URL, **options)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def first_dish(orders) -> str:
    menu = orders.GetMenu(orders_pb2.GetMenuRequest())
    assert menu.sections and menu.sections[0].products, "the demo menu has a product"
    return menu.sections[0].products[0].id


def test_logs_in_refreshes_before_expiry_and_forged_tokens_are_refused(dial):
    client = dial(credentials=ADMIN)
    identity = client.stub(identity_pb2_grpc.IdentityServiceStub)
    first = client.access_token()
    assert identity.GetMe(identity_pb2.GetMeRequest()).claims.username == ADMIN.username

    # Tokens live 6 s in the test server: past 4 s the next calls refresh,
    # and the concurrent ones share one refresh (a second use of the
    # rotating refresh token would revoke the session).
    time.sleep(4.5)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: identity.GetMe(identity_pb2.GetMeRequest()), range(8)))
    second = client.access_token()
    assert second and second != first, "the access token was refreshed before it expired"

    for token in [second[:-4] + "AAAA", "not-a-jwt"]:
        stolen = dial(credentials=Tokens(identity_pb2.TokenPair(access_token=token, expires_in=3600)))
        with pytest.raises(MalhaError) as refused:
            stolen.stub(identity_pb2_grpc.IdentityServiceStub).GetMe(identity_pb2.GetMeRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(MalhaError) as wrong:
        dial(credentials=Password("admin", "wrong password"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_creating_a_project_takes_its_materials_from_stock_once(dial):
    client = dial(credentials=ADMIN)
    inventory = client.stub(inventory_pb2_grpc.InventoryServiceStub)
    product = inventory.CreateProduct(
        inventory_pb2.CreateProductRequest(
            product=inventory_pb2.Product(sku=f"MDF-py-{time.time_ns()}", name="MDF 18mm", unit="sheet"),
            request_id=str(uuid.uuid4()),
        )
    ).product
    inventory.RecordMovement(
        inventory_pb2.RecordMovementRequest(
            product_id=product.id,
            kind=inventory_pb2.MOVEMENT_KIND_RECEIPT,
            quantity=10,
            reason="delivery",
            request_id=str(uuid.uuid4()),
        )
    )
    client.stub(projects_pb2_grpc.ProjectsServiceStub).CreateProject(
        projects_pb2.CreateProjectRequest(
            project=projects_pb2.Project(
                name="Cozinha planejada",
                client="Dona Maria",
                materials=[projects_pb2.Material(product_id=product.id, product_name=product.name, quantity=3)],
            ),
            request_id=str(uuid.uuid4()),
        )
    )

    # The event flow is asynchronous: wait for the drop, then make sure it
    # stays at one drop.
    def quantity() -> int:
        return inventory.GetProduct(inventory_pb2.GetProductRequest(product_id=product.id)).product.quantity_on_hand

    deadline = time.monotonic() + 20
    while quantity() != 7:
        assert time.monotonic() < deadline, f"the stock is {quantity()}, want 7 after the project took 3 of 10"
        time.sleep(0.2)
    time.sleep(1)
    assert quantity() == 7, "the materials are taken once"


def test_an_anonymous_customer_watches_the_order_get_paid_and_cooked(dial):
    staff = dial(credentials=ADMIN)
    anonymous = (
        dial()
        .stub(identity_pb2_grpc.IdentityServiceStub)
        .CreateAnonymousCustomer(identity_pb2.CreateAnonymousCustomerRequest(request_id=str(uuid.uuid4())))
    )
    customer = dial(credentials=Tokens(anonymous.tokens))
    orders = customer.stub(orders_pb2_grpc.OrdersServiceStub)
    placed = orders.CreateOrder(
        orders_pb2.CreateOrderRequest(
            items=[orders_pb2.OrderItem(product_id=first_dish(orders), quantity=2)], request_id=str(uuid.uuid4())
        )
    )

    seen: list[int] = []
    stream = orders.WatchOrder(orders_pb2.WatchOrderRequest(order_id=placed.order.id), timeout=30)
    next(stream)  # the order as it is now
    watcher = threading.Thread(target=lambda: seen.extend(m.change.to_status for m in stream))
    watcher.start()

    def saw(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(seen) < count:
            assert time.monotonic() < deadline, f"WatchOrder saw only {seen}"
            time.sleep(0.05)

    staff.stub(payments_pb2_grpc.PaymentsServiceStub).ConfirmPayment(
        payments_pb2.ConfirmPaymentRequest(payment_id=placed.payment.payment_id, note="seen in the bank app")
    )
    saw(1)
    kitchen = staff.stub(orders_pb2_grpc.OrdersServiceStub)
    steps = [orders_pb2.ORDER_STATUS_PREPARING, orders_pb2.ORDER_STATUS_READY, orders_pb2.ORDER_STATUS_DELIVERED]
    for index, status in enumerate(steps):
        kitchen.UpdateOrderStatus(orders_pb2.UpdateOrderStatusRequest(order_id=placed.order.id, status=status))
        saw(index + 2)
    watcher.join(10)  # DELIVERED is final: the stream ends
    assert not watcher.is_alive()
    assert seen == [orders_pb2.ORDER_STATUS_PAID, *steps]


def test_an_invalid_request_names_its_fields_in_the_typed_error(dial):
    inventory = dial(credentials=ADMIN).stub(inventory_pb2_grpc.InventoryServiceStub)
    with pytest.raises(MalhaError) as invalid:
        inventory.CreateProduct(
            inventory_pb2.CreateProductRequest(
                product=inventory_pb2.Product(sku="", name="", unit="sheet"), request_id=str(uuid.uuid4())
            )
        )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.value.fields == ["product.sku", "product.name"]
    assert invalid.value.field_violations[0].description


def test_calls_honour_their_deadline(dial):
    # The default deadline covers the login inside connect too.
    with pytest.raises(MalhaError) as login:
        dial(credentials=ADMIN, deadline=0.000001)
    assert login.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # gRPC rounds deadlines up to the millisecond, and a cached read can answer
    # within one: the slow call is a login, whose argon2id hash alone takes
    # tens of milliseconds.
    login = identity_pb2.LoginRequest(username=ADMIN.username, password=ADMIN.password)
    with pytest.raises(MalhaError) as hurried:
        dial(deadline=0.001).stub(identity_pb2_grpc.IdentityServiceStub).Login(login)
    assert hurried.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # A call's own timeout wins over the default one.
    with pytest.raises(MalhaError) as short:
        dial().stub(identity_pb2_grpc.IdentityServiceStub).Login(login, timeout=0.001)
    assert short.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    # A stream lasts as long as its own timeout: a watch of 0.3 s on an order
    # that does not change ends with DEADLINE_EXCEEDED.
    orders = dial(credentials=ADMIN).stub(orders_pb2_grpc.OrdersServiceStub)
    placed = orders.CreateOrder(
        orders_pb2.CreateOrderRequest(
            items=[orders_pb2.OrderItem(product_id=first_dish(orders), quantity=1)], request_id=str(uuid.uuid4())
        )
    )
    started = time.monotonic()
    with pytest.raises(MalhaError) as watch:
        for _ in orders.WatchOrder(orders_pb2.WatchOrderRequest(order_id=placed.order.id), timeout=0.3):
            pass  # the first message is the order as it is
    assert watch.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 5, "the watch ended near its 0.3 s deadline"


def test_a_service_account_logs_in_with_client_credentials(dial):
    created = (
        dial(credentials=ADMIN)
        .stub(identity_pb2_grpc.IdentityServiceStub)
        .CreateServiceAccount(
            identity_pb2.CreateServiceAccountRequest(
                name=f"robot-py-{time.time_ns()}", roles=["service"], request_id=str(uuid.uuid4())
            )
        )
    )
    robot = dial(credentials=ClientCredentials(created.client_id, created.client_secret))
    me = robot.stub(identity_pb2_grpc.IdentityServiceStub).GetMe(identity_pb2.GetMeRequest())
    assert me.claims.subject_kind == identity_pb2.SUBJECT_KIND_SERVICE
    with pytest.raises(MalhaError) as wrong:
        dial(credentials=ClientCredentials(created.client_id, "wrong secret"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
