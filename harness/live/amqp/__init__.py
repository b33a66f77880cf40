"""The broker side of the live world: a RabbitMQ node and KS's Fiks IO topology on it."""
