//! Pharmacy's own settings: what its QR codes point at.

/// Pharmacy's flags and environment.
#[derive(Debug, Clone, clap::Args)]
pub struct PharmacyConfig {
    /// The base URL a cabinet's QR code carries (`<base>/dispensers/<id>`):
    /// where a phone that scans the label should land. Changing it later
    /// does not break printed labels: ResolveQr accepts any base.
    #[arg(
        long,
        env = "MALHA_PHARMACY_QR_BASE_URL",
        default_value = "http://localhost:8080"
    )]
    pub pharmacy_qr_base_url: String,
}

impl Default for PharmacyConfig {
    fn default() -> Self {
        Self {
            pharmacy_qr_base_url: "http://localhost:8080".into(),
        }
    }
}

impl PharmacyConfig {
    /// The base URL, checked: an absolute http(s) URL without a query.
    pub fn qr_base_url(&self) -> anyhow::Result<String> {
        let base = self.pharmacy_qr_base_url.trim().trim_end_matches('/');
        anyhow::ensure!(
            (base.starts_with("https://") || base.starts_with("http://"))
                && base.len() > "https://".len()
                && !base.contains(['?', '#', ' ']),
            "MALHA_PHARMACY_QR_BASE_URL must be an http(s) URL without query or fragment, got {base:?}"
        );
        Ok(base.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> PharmacyConfig {
        PharmacyConfig {
            pharmacy_qr_base_url: base.into(),
        }
    }

    #[test]
    fn the_base_url_is_an_absolute_http_url() {
        assert_eq!(
            config("https://asky.example/app/").qr_base_url().unwrap(),
            "https://asky.example/app"
        );
        assert!(PharmacyConfig::default().qr_base_url().is_ok());
        for bad in ["", "asky.example", "https://", "https://x/?a=1", "ftp://x"] {
            assert!(config(bad).qr_base_url().is_err(), "{bad}");
        }
    }
}
