"""Retries: only idempotent calls, only UNAVAILABLE (no server needed: a
port nobody listens on answers every attempt UNAVAILABLE)."""

import socket
import uuid

import grpc
import pytest

from malha.orders.v1 import orders_pb2, orders_pb2_grpc
from malha.payments.v1 import payments_pb2, payments_pb2_grpc
from malha_sdk import MalhaError, connect


class CountAttempts(grpc.UnaryUnaryClientInterceptor):
    def __init__(self) -> None:
        self.attempts = 0

    def intercept_unary_unary(self, continuation, details, request):
        self.attempts += 1
        return continuation(details, request)


def test_only_idempotent_calls_are_retried_when_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counter = CountAttempts()
    with connect(f"http://127.0.0.1:{port}", max_attempts=3, interceptors=[counter]) as client:
        orders = client.stub(orders_pb2_grpc.OrdersServiceStub)
        payments = client.stub(payments_pb2_grpc.PaymentsServiceStub)
        cases = [
            ("a read", lambda: orders.GetMenu(orders_pb2.GetMenuRequest()), 3),
            (
                "a create with request_id",
                lambda: orders.CreateOrder(orders_pb2.CreateOrderRequest(request_id=str(uuid.uuid4()))),
                3,
            ),
            ("a create without request_id", lambda: orders.CreateOrder(orders_pb2.CreateOrderRequest()), 1),
            ("a state change", lambda: payments.ConfirmPayment(payments_pb2.ConfirmPaymentRequest(payment_id="p")), 1),
        ]
        for name, call, tries in cases:
            counter.attempts = 0
            with pytest.raises(MalhaError) as unavailable:
                call()
            assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE, name
            assert counter.attempts == tries, f"{name}: {counter.attempts} attempts, want {tries}"
