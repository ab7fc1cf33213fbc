//! A cabinet's QR code as an image, PNG or SVG, rendered off the async
//! runtime as payments renders Pix codes (encoding takes milliseconds, and
//! a burst of label printing must not stall the workers).

use std::io::Cursor;

use anyhow::Context;
use qrcode::{EcLevel, QrCode};

/// Smallest side of the rendered image, in pixels: readable on a printed
/// label from arm's length.
const MIN_SIDE: u32 = 240;

/// The two image formats `GetDispenserQr` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrFormat {
    Png,
    Svg,
}

impl QrFormat {
    /// The format `qr_file` names (`qr.png`, `qr.svg`, any case), or why not.
    pub fn from_file_name(name: &str) -> Result<Self, &'static str> {
        match name.trim().to_ascii_lowercase().as_str() {
            "qr.png" => Ok(Self::Png),
            "qr.svg" => Ok(Self::Svg),
            _ => Err("qr.png or qr.svg"),
        }
    }

    /// The Content-Type the image is answered with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// Renders `payload` in `format` on the blocking pool.
pub async fn render(payload: String, format: QrFormat) -> anyhow::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || render_now(&payload, format))
        .await
        .context("the QR rendering task panicked")?
}

/// Renders `payload` in `format` on this thread.
pub fn render_now(payload: &str, format: QrFormat) -> anyhow::Result<Vec<u8>> {
    // Level Q: a label on a cabinet gets scratched; a URL is short enough
    // that the extra redundancy costs little size.
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::Q)
        .context("the payload does not fit a QR code")?;
    match format {
        QrFormat::Png => {
            let image = code
                .render::<image::Luma<u8>>()
                .min_dimensions(MIN_SIDE, MIN_SIDE)
                .build();
            let mut png = Vec::new();
            image
                .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
                .context("encoding the QR code as PNG")?;
            Ok(png)
        }
        QrFormat::Svg => Ok(code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(MIN_SIDE, MIN_SIDE)
            .build()
            .into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::qr;

    #[test]
    fn file_names_choose_the_format() {
        assert_eq!(QrFormat::from_file_name("qr.png"), Ok(QrFormat::Png));
        assert_eq!(QrFormat::from_file_name("QR.SVG"), Ok(QrFormat::Svg));
        assert!(QrFormat::from_file_name("qr.gif").is_err());
        assert!(QrFormat::from_file_name("movements").is_err());
    }

    /// The PNG, read back by an independent decoder (rqrr), carries the
    /// cabinet's URL, and that URL resolves to the cabinet.
    #[tokio::test]
    async fn a_decoded_png_resolves_to_its_cabinet() {
        let id = uuid::Uuid::now_v7();
        let payload = qr::payload("https://asky.example", id);
        let png = render(payload.clone(), QrFormat::Png).await.unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (_meta, decoded) = grids[0].decode().unwrap();
        assert_eq!(decoded, payload);
        assert_eq!(qr::resolve(&decoded), Ok(id));
    }

    #[tokio::test]
    async fn the_svg_is_an_svg_document() {
        let svg = render("urn:malha:dispenser:x".into(), QrFormat::Svg)
            .await
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg"), "{}", &svg[..80]);
        assert_eq!(QrFormat::Svg.content_type(), "image/svg+xml");
    }
}
