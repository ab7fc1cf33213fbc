//! Flows across services: what one service does that others must see at once.

mod key_rotation;
mod request_checks;
