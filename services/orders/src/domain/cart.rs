//! What a valid order is, and its price: lines are checked one by one (every
//! bad field reported), then priced from the menu alone — a price the client
//! sends never counts — and refused when a product is not available.

use std::collections::HashMap;

use uuid::Uuid;

use malha_kit::validate::Violations;

/// Most lines in one order.
pub const MAX_LINES: usize = 100;
/// Most units of one line.
pub const MAX_QUANTITY: i32 = 50;
/// Longest note of a line.
pub const MAX_LINE_NOTES: usize = 200;
/// Longest note of an order.
pub const MAX_ORDER_NOTES: usize = 500;
/// Largest order total (R$ 100.000,00).
pub const MAX_TOTAL_CENTAVOS: i64 = 10_000_000;

/// A line as requested.
pub struct LineInput<'a> {
    pub product_id: &'a str,
    pub quantity: i32,
    pub notes: &'a str,
}

/// A checked line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: Uuid,
    pub quantity: i32,
    pub notes: String,
}

/// What the menu says about a product.
#[derive(Debug, Clone)]
pub struct MenuProduct {
    pub name: String,
    pub price_centavos: i64,
    pub available: bool,
}

/// A line priced from the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: Uuid,
    pub product_name: String,
    pub unit_price_centavos: i64,
    pub quantity: i32,
    pub notes: String,
}

impl PricedLine {
    /// Unit price × quantity.
    pub fn total(&self) -> i64 {
        self.unit_price_centavos * i64::from(self.quantity)
    }
}

/// A priced order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    pub total_centavos: i64,
}

/// Checks the lines of a new order: 1 to [`MAX_LINES`] lines, product ids,
/// quantities 1 to [`MAX_QUANTITY`], notes. A product may appear on several
/// lines (one burger without onions, one with).
pub fn check_lines(v: &mut Violations, items: &[LineInput<'_>]) -> Vec<Line> {
    if items.is_empty() {
        v.add("items", "at least one item is required");
    }
    if items.len() > MAX_LINES {
        v.add("items", format!("at most {MAX_LINES} lines"));
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let product_id = v.uuid(item.product_id, &format!("items[{i}].product_id"));
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                v.add(
                    format!("items[{i}].quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                );
            }
            if item.notes.chars().count() > MAX_LINE_NOTES {
                v.add(
                    format!("items[{i}].notes"),
                    format!("at most {MAX_LINE_NOTES} characters"),
                );
            }
            Line {
                product_id,
                quantity: item.quantity,
                notes: item.notes.trim().to_owned(),
            }
        })
        .collect()
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Each offending line, described for a person (`items[1] "X-Bacon" is unavailable`).
    Unavailable(Vec<String>),
    /// The total is above [`MAX_TOTAL_CENTAVOS`].
    TooLarge(i64),
}

/// Prices `lines` from `menu`. Every line naming an unknown or unavailable
/// product is listed in the refusal.
pub fn price(lines: &[Line], menu: &HashMap<Uuid, MenuProduct>) -> Result<Priced, Refused> {
    let mut refused = Vec::new();
    let mut priced = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match menu.get(&line.product_id) {
            None => refused.push(format!(
                "items[{i}] ({}) is not on the menu",
                line.product_id
            )),
            Some(product) if !product.available => {
                refused.push(format!("items[{i}] \"{}\" is unavailable", product.name));
            }
            Some(product) => priced.push(PricedLine {
                product_id: line.product_id,
                product_name: product.name.clone(),
                unit_price_centavos: product.price_centavos,
                quantity: line.quantity,
                notes: line.notes.clone(),
            }),
        }
    }
    if !refused.is_empty() {
        return Err(Refused::Unavailable(refused));
    }
    let total = priced.iter().try_fold(0i64, |sum, line| {
        sum.checked_add(
            line.unit_price_centavos
                .checked_mul(i64::from(line.quantity))?,
        )
    });
    match total {
        Some(total) if total <= MAX_TOTAL_CENTAVOS => Ok(Priced {
            lines: priced,
            total_centavos: total,
        }),
        Some(total) => Err(Refused::TooLarge(total)),
        None => Err(Refused::TooLarge(i64::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> (Uuid, Uuid, Uuid, HashMap<Uuid, MenuProduct>) {
        let (burger, juice, pie) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let product = |name: &str, price, available| MenuProduct {
            name: name.into(),
            price_centavos: price,
            available,
        };
        let menu = HashMap::from([
            (burger, product("X-Burger", 2490, true)),
            (juice, product("Suco de laranja", 900, true)),
            (pie, product("Torta de limão", 1200, false)),
        ]);
        (burger, juice, pie, menu)
    }

    fn line(product_id: Uuid, quantity: i32) -> Line {
        Line {
            product_id,
            quantity,
            notes: String::new(),
        }
    }

    #[test]
    fn prices_come_from_the_menu() {
        let (burger, juice, _, menu) = menu();
        let priced = price(&[line(burger, 2), line(juice, 1), line(burger, 1)], &menu).unwrap();
        assert_eq!(priced.total_centavos, 2 * 2490 + 900 + 2490);
        assert_eq!(priced.lines[0].unit_price_centavos, 2490);
        assert_eq!(priced.lines[0].total(), 4980);
        assert_eq!(priced.lines[1].product_name, "Suco de laranja");
    }

    #[test]
    fn every_unavailable_or_unknown_product_is_named() {
        let (burger, _, pie, menu) = menu();
        let ghost = Uuid::now_v7();
        let Err(Refused::Unavailable(lines)) =
            price(&[line(burger, 1), line(pie, 1), line(ghost, 2)], &menu)
        else {
            panic!("expected a refusal")
        };
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "items[1] \"Torta de limão\" is unavailable");
        assert!(lines[1].starts_with("items[2] (") && lines[1].ends_with("is not on the menu"));
    }

    #[test]
    fn absurd_totals_are_refused() {
        let (burger, _, _, mut menu) = menu();
        menu.get_mut(&burger).unwrap().price_centavos = i64::MAX / 2;
        assert!(matches!(
            price(&[line(burger, 50)], &menu),
            Err(Refused::TooLarge(_))
        ));
    }

    #[test]
    fn quantities_and_lines_are_checked_field_by_field() {
        let id = Uuid::now_v7().to_string();
        let long = "x".repeat(201);
        let mut v = Violations::new();
        let lines = check_lines(
            &mut v,
            &[
                LineInput {
                    product_id: &id,
                    quantity: 1,
                    notes: "sem cebola",
                },
                LineInput {
                    product_id: &id,
                    quantity: 0,
                    notes: "",
                },
                LineInput {
                    product_id: &id,
                    quantity: -3,
                    notes: "",
                },
                LineInput {
                    product_id: "burger",
                    quantity: 51,
                    notes: &long,
                },
                LineInput {
                    product_id: &id,
                    quantity: 50,
                    notes: "",
                },
            ],
        );
        assert_eq!(lines[0].notes, "sem cebola");
        let Err(malha_kit::ServiceError::InvalidArgument(all)) = v.finish() else {
            panic!("expected violations")
        };
        let fields: Vec<_> = all.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[1].quantity",
                "items[2].quantity",
                "items[3].product_id",
                "items[3].quantity",
                "items[3].notes"
            ]
        );
    }

    #[test]
    fn an_order_has_one_to_a_hundred_lines() {
        let mut v = Violations::new();
        check_lines(&mut v, &[]);
        assert!(v.finish().is_err());
        let id = Uuid::now_v7().to_string();
        let many: Vec<_> = (0..101)
            .map(|_| LineInput {
                product_id: &id,
                quantity: 1,
                notes: "",
            })
            .collect();
        let mut v = Violations::new();
        check_lines(&mut v, &many);
        assert!(v.finish().is_err());
    }
}
