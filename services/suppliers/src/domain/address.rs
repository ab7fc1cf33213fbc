//! Brazilian address parts with rules: the UF (one of the 27 federative
//! units) and the CEP (8 digits). Both are normalised so they are stored one
//! way: the UF in uppercase, the CEP without its dash.

use std::fmt;

/// The 26 states and the Federal District.
pub const UFS: [&str; 27] = [
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA", "PB", "PR",
    "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
];

/// A federative unit, as its two uppercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uf(&'static str);

/// Why a UF was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not one of the 27 UFs (AC, AL, ... SP, SE, TO)")]
pub struct UfError;

impl Uf {
    /// Parses `SP`, `sp` or ` Sp `.
    pub fn parse(input: &str) -> Result<Self, UfError> {
        let wanted = input.trim().to_ascii_uppercase();
        UFS.iter()
            .find(|uf| **uf == wanted)
            .map(|uf| Self(uf))
            .ok_or(UfError)
    }

    /// The two uppercase letters.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A CEP (Código de Endereçamento Postal): 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cep(String);

/// Why a CEP was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CepError {
    /// Not 8 digits (one `-`, `.` or space between them is allowed).
    #[error("a CEP has 8 digits, e.g. 01310-100")]
    Format,
    /// 00000-000 is no address; CEPs start at 01000-000.
    #[error("00000-000 is not a CEP")]
    Zero,
}

impl Cep {
    /// Parses `01310-100`, `01310100` or `01.310-100`.
    pub fn parse(input: &str) -> Result<Self, CepError> {
        let mut digits = String::with_capacity(8);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | '.' | ' ' => {}
                _ => return Err(CepError::Format),
            }
        }
        if digits.len() != 8 {
            return Err(CepError::Format);
        }
        if digits == "00000000" {
            return Err(CepError::Zero);
        }
        Ok(Self(digits))
    }

    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cep {
    /// The usual `01310-100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", &self.0[..5], &self.0[5..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_exactly_the_27_ufs() {
        assert_eq!(UFS.len(), 27);
        let mut sorted = UFS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 27, "no UF twice");
        for uf in UFS {
            assert_eq!(Uf::parse(uf).unwrap().as_str(), uf);
        }
    }

    #[test]
    fn normalises_case_and_spaces_of_ufs_and_refuses_others() {
        assert_eq!(Uf::parse(" sp ").unwrap().as_str(), "SP");
        assert_eq!(Uf::parse("Df").unwrap().to_string(), "DF");
        for bad in ["", "S", "SPO", "XX", "BR", "GB", "S P"] {
            assert_eq!(Uf::parse(bad), Err(UfError), "{bad:?}");
        }
    }

    #[test]
    fn accepts_ceps_with_or_without_the_dash() {
        let cep = Cep::parse("01310-100").unwrap();
        assert_eq!(cep.as_str(), "01310100");
        assert_eq!(cep.to_string(), "01310-100");
        assert_eq!(Cep::parse("01310100"), Ok(cep.clone()));
        assert_eq!(Cep::parse(" 01.310-100 "), Ok(cep));
    }

    #[test]
    fn refuses_malformed_ceps() {
        for bad in ["", "0131010", "013101000", "01310-10a", "01310_100"] {
            assert_eq!(Cep::parse(bad), Err(CepError::Format), "{bad:?}");
        }
        assert_eq!(Cep::parse("00000-000"), Err(CepError::Zero));
    }
}
