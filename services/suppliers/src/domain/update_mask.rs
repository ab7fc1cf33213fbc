//! UpdateSupplier's field mask: which paths exist, which are output only,
//! and what each one changes. `address` stands for all of its parts, `*`
//! for every updatable field.

/// A part of the address that a mask may name on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AddressPart {
    Street,
    Number,
    Complement,
    District,
    City,
    State,
    PostalCode,
}

impl AddressPart {
    /// Every part, in proto order.
    pub const ALL: [Self; 7] = [
        Self::Street,
        Self::Number,
        Self::Complement,
        Self::District,
        Self::City,
        Self::State,
        Self::PostalCode,
    ];

    /// The proto field name (`postal_code`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Street => "street",
            Self::Number => "number",
            Self::Complement => "complement",
            Self::District => "district",
            Self::City => "city",
            Self::State => "state",
            Self::PostalCode => "postal_code",
        }
    }
}

/// An updatable field of a supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    LegalName,
    TradeName,
    Cnpj,
    /// The whole contact list.
    Contacts,
    Address(AddressPart),
}

/// Fields that the caller may read but never write.
const OUTPUT_ONLY: [&str; 4] = ["id", "active", "create_time", "update_time"];

/// A mask path that cannot be applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    /// Its index in `update_mask.paths`.
    pub index: usize,
    /// What is wrong, for a person to read.
    pub problem: String,
}

/// The fields `paths` name, sorted and without duplicates, or every bad path.
pub fn parse(paths: &[impl AsRef<str>]) -> Result<Vec<Field>, Vec<PathProblem>> {
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        match fields_of(path.as_ref().trim()) {
            Ok(named) => fields.extend(named),
            Err(problem) => problems.push(PathProblem { index, problem }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    fields.sort_unstable();
    fields.dedup();
    Ok(fields)
}

fn fields_of(path: &str) -> Result<Vec<Field>, String> {
    let all_address = || AddressPart::ALL.map(Field::Address).to_vec();
    Ok(match path {
        "*" => {
            let mut all = vec![
                Field::LegalName,
                Field::TradeName,
                Field::Cnpj,
                Field::Contacts,
            ];
            all.extend(all_address());
            all
        }
        "legal_name" => vec![Field::LegalName],
        "trade_name" => vec![Field::TradeName],
        "cnpj" => vec![Field::Cnpj],
        "contacts" => vec![Field::Contacts],
        "address" => all_address(),
        "active" => {
            return Err("active is output only; use ActivateSupplier or DeactivateSupplier".into());
        }
        _ if OUTPUT_ONLY.contains(&path) => return Err(format!("{path} is output only")),
        _ => match path.strip_prefix("address.") {
            Some(part) => match AddressPart::ALL.iter().find(|p| p.name() == part) {
                Some(part) => vec![Field::Address(*part)],
                None => return Err(format!("the address has no field {part:?}")),
            },
            None if path.is_empty() => return Err("empty path".into()),
            None => return Err(format!("a supplier has no updatable field {path:?}")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fields_and_address_parts() {
        assert_eq!(
            parse(&["cnpj", "legal_name", "address.city", "cnpj"]).unwrap(),
            [
                Field::LegalName,
                Field::Cnpj,
                Field::Address(AddressPart::City)
            ]
        );
    }

    #[test]
    fn address_and_star_expand() {
        assert_eq!(parse(&["address"]).unwrap().len(), 7);
        let all = parse(&["*"]).unwrap();
        assert_eq!(all.len(), 11);
        assert!(all.contains(&Field::Contacts));
        assert_eq!(parse(&["address", "address.state"]).unwrap().len(), 7);
    }

    #[test]
    fn refuses_unknown_and_output_only_paths_naming_each() {
        let problems =
            parse(&["legal_name", "active", "colour", "address.planet", "id"]).unwrap_err();
        let indexes: Vec<_> = problems.iter().map(|p| p.index).collect();
        assert_eq!(indexes, [1, 2, 3, 4]);
        assert!(problems[0].problem.contains("ActivateSupplier"));
        assert!(problems[3].problem.contains("output only"));
    }

    #[test]
    fn an_empty_list_names_nothing() {
        let none: [&str; 0] = [];
        assert!(parse(&none).unwrap().is_empty());
        assert!(parse(&[""]).is_err());
    }
}
