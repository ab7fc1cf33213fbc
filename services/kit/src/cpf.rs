//! The CPF (Cadastro de Pessoas Físicas): eleven digits, the last two mod-11
//! check digits (weights 10→2, then 11→2); one repeated digit is invalid.
//! Shared by every service that takes one (identity's customers, queue's
//! tickets); [`Cpf::masked`] is what a reader without a need to know sees.

use std::fmt;

/// A CPF whose check digits are right, stored as its eleven digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

/// Why a CPF was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CpfError {
    /// Not eleven digits (punctuation `.` `-` and spaces are allowed).
    #[error("a CPF has 11 digits")]
    Length,
    /// All eleven digits are the same (000.000.000-00 and so on).
    #[error("a CPF cannot be one repeated digit")]
    Repeated,
    /// The check digits do not match.
    #[error("the CPF check digits do not match")]
    CheckDigits,
}

impl Cpf {
    /// Parses `123.456.789-09` or `12345678909`.
    pub fn parse(input: &str) -> Result<Self, CpfError> {
        let mut digits = Vec::with_capacity(11);
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                '.' | '-' | ' ' => {}
                _ => return Err(CpfError::Length),
            }
        }
        if digits.len() != 11 {
            return Err(CpfError::Length);
        }
        if digits.iter().all(|d| *d == digits[0]) {
            return Err(CpfError::Repeated);
        }
        if check_digit(&digits[..9]) != digits[9] || check_digit(&digits[..10]) != digits[10] {
            return Err(CpfError::CheckDigits);
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// The eleven digits.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// `***.982.247-**`: the middle six digits, as Brazilian public bodies
    /// print a CPF for readers who must not learn it whole.
    pub fn masked(&self) -> String {
        let d = &self.0;
        format!("***.{}.{}-**", &d[3..6], &d[6..9])
    }
}

/// Mod-11 check digit over `digits` with weights `len+1` down to 2.
fn check_digit(digits: &[u8]) -> u8 {
    let weight_start = digits.len() + 1;
    let sum: usize = digits
        .iter()
        .enumerate()
        .map(|(i, d)| usize::from(*d) * (weight_start - i))
        .sum();
    let rest = sum % 11;
    if rest < 2 {
        0
    } else {
        u8::try_from(11 - rest).unwrap_or(0)
    }
}

impl fmt::Display for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{}.{}.{}-{}", &d[0..3], &d[3..6], &d[6..9], &d[9..11])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers_with_or_without_punctuation() {
        for valid in [
            "529.982.247-25",
            "52998224725",
            "111.444.777-35",
            "935.411.347-80",
        ] {
            assert!(Cpf::parse(valid).is_ok(), "{valid}");
        }
        assert_eq!(
            Cpf::parse("529.982.247-25").unwrap().digits(),
            "52998224725"
        );
        assert_eq!(
            Cpf::parse("52998224725").unwrap().to_string(),
            "529.982.247-25"
        );
    }

    #[test]
    fn the_masked_form_hides_the_first_three_and_the_check_digits() {
        assert_eq!(
            Cpf::parse("529.982.247-25").unwrap().masked(),
            "***.982.247-**"
        );
    }

    #[test]
    fn refuses_wrong_check_digits() {
        assert_eq!(Cpf::parse("529.982.247-26"), Err(CpfError::CheckDigits));
        assert_eq!(Cpf::parse("12345678900"), Err(CpfError::CheckDigits));
    }

    #[test]
    fn refuses_repeated_digits_even_though_their_check_digits_match() {
        for d in 0..=9 {
            let cpf = d.to_string().repeat(11);
            assert_eq!(Cpf::parse(&cpf), Err(CpfError::Repeated), "{cpf}");
        }
    }

    #[test]
    fn refuses_wrong_lengths_and_letters() {
        assert_eq!(Cpf::parse(""), Err(CpfError::Length));
        assert_eq!(Cpf::parse("5299822472"), Err(CpfError::Length));
        assert_eq!(Cpf::parse("529982247251"), Err(CpfError::Length));
        assert_eq!(Cpf::parse("52998224a25"), Err(CpfError::Length));
    }
}
