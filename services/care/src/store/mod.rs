//! Care's SQL (the repository): [`requests`] and their items, [`changes`]
//! (the numbered history every change goes through, the watch's feed).

pub mod changes;
pub mod requests;
