//! Cabinets and pockets: validation naming each field, idempotent creates,
//! unique codes, lists by code filtered by ward and status, masks, a
//! retired cabinet staying retired, SetPocket's rules, and QR codes read
//! back (ResolveQr, and the PNG through an independent decoder).

use tonic::Code;

use super::*;
use crate::helpers::{mask, violated_fields};

#[tokio::test]
async fn a_cabinet_is_created_once_with_a_unique_code_and_every_bad_field_is_named() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;

    let invalid = client
        .create_dispenser(authed(
            CreateDispenserRequest {
                dispenser: Some(Dispenser {
                    code: "PYX UTI".into(),
                    name: String::new(),
                    location: Some(Location {
                        building: String::new(),
                        floor: "1".repeat(21),
                        ward: "UTI".into(),
                        room: String::new(),
                    }),
                    ..Dispenser::default()
                }),
                request_id: "nope".into(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&invalid),
        [
            "dispenser.code",
            "dispenser.name",
            "dispenser.location.building",
            "dispenser.location.floor",
            "request_id"
        ]
    );
    let no_location = client
        .create_dispenser(authed(
            CreateDispenserRequest {
                dispenser: Some(Dispenser {
                    code: "PYX-1".into(),
                    name: "x".into(),
                    ..Dispenser::default()
                }),
                request_id: String::new(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_location), ["dispenser.location"]);

    let request = CreateDispenserRequest {
        dispenser: Some(Dispenser {
            code: " pyx-uti-01 ".into(),
            name: "Pyxis da UTI".into(),
            location: Some(location("UTI Adulto")),
            ..Dispenser::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let created = client
        .create_dispenser(authed(request.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    assert_eq!(created.code, "PYX-UTI-01");
    assert_eq!(created.status(), DispenserStatus::Active);
    assert!(created.pockets.is_empty());
    assert_eq!(
        created.qr_url,
        format!("http://localhost:8080/dispensers/{}", created.id)
    );
    let again = client
        .create_dispenser(authed(request, &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    assert_eq!(again.id, created.id);

    let taken = client
        .create_dispenser(authed(
            CreateDispenserRequest {
                dispenser: Some(Dispenser {
                    code: "PYX-UTI-01".into(),
                    name: "Outro".into(),
                    location: Some(location("Pediatria")),
                    ..Dispenser::default()
                }),
                request_id: String::new(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert!(taken.message().contains("code"), "{}", taken.message());
}

#[tokio::test]
async fn cabinets_list_by_code_filtered_by_ward_and_status_with_their_pockets() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let dipirona =
        create_medicine(&mut client, &staff.pharmacist, medicine("Dipirona", false)).await;
    let ps = create_dispenser(
        &mut client,
        &staff.pharmacist,
        "PYX-PS-01",
        "Pronto-Socorro",
    )
    .await;
    let uti2 = create_dispenser(&mut client, &staff.pharmacist, "PYX-UTI-02", "UTI Adulto").await;
    let uti1 = create_dispenser(&mut client, &staff.pharmacist, "PYX-UTI-01", "UTI Adulto").await;
    set_pocket(
        &mut client,
        &staff.pharmacist,
        &uti1,
        "A-01",
        &dipirona.id,
        5,
    )
    .await
    .unwrap();
    client
        .update_dispenser(authed(
            UpdateDispenserRequest {
                dispenser: Some(Dispenser {
                    id: uti2.id.clone(),
                    status: DispenserStatus::Maintenance.into(),
                    ..Dispenser::default()
                }),
                update_mask: mask(&["status"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap();

    let list = |request: ListDispensersRequest| {
        let mut client = client.clone();
        let token = staff.nurse.clone();
        async move {
            client
                .list_dispensers(authed(request, &token))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let first = list(ListDispensersRequest {
        page_size: 2,
        ..ListDispensersRequest::default()
    })
    .await;
    let codes: Vec<_> = first.dispensers.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["PYX-PS-01", "PYX-UTI-01"]);
    assert_eq!(first.dispensers[1].pockets.len(), 1, "pockets come along");
    assert_eq!(
        first.dispensers[1].pockets[0].item.as_ref().unwrap().name,
        "Dipirona"
    );
    let second = list(ListDispensersRequest {
        page_size: 2,
        page_token: first.next_page_token,
        ..ListDispensersRequest::default()
    })
    .await;
    assert_eq!(second.dispensers.len(), 1);
    assert_eq!(second.dispensers[0].id, uti2.id);
    assert!(second.next_page_token.is_empty());

    let in_uti = list(ListDispensersRequest {
        ward: " uti adulto ".into(),
        ..ListDispensersRequest::default()
    })
    .await;
    assert_eq!(in_uti.dispensers.len(), 2);
    let active_in_uti = list(ListDispensersRequest {
        ward: "UTI Adulto".into(),
        status: DispenserStatus::Active.into(),
        ..ListDispensersRequest::default()
    })
    .await;
    assert_eq!(active_in_uti.dispensers.len(), 1);
    assert_eq!(active_in_uti.dispensers[0].id, uti1.id);
    let bad = client
        .list_dispensers(authed(
            ListDispensersRequest {
                status: 9,
                page_size: -2,
                ..ListDispensersRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["page_size", "status"]);
    let got = client
        .get_dispenser(authed(
            GetDispenserRequest {
                dispenser_id: ps.id.clone(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    assert_eq!(got.location.unwrap().ward, "Pronto-Socorro");
}

#[tokio::test]
async fn a_cabinet_updates_by_mask_and_a_retired_one_stays_retired() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let cabinet = create_dispenser(&mut client, &staff.pharmacist, "PYX-PED-01", "Pediatria").await;

    let moved = client
        .update_dispenser(authed(
            UpdateDispenserRequest {
                dispenser: Some(Dispenser {
                    id: cabinet.id.clone(),
                    name: "ignored".into(),
                    location: Some(Location {
                        floor: "4".into(),
                        room: "Sala 12".into(),
                        ..Location::default()
                    }),
                    ..Dispenser::default()
                }),
                update_mask: mask(&["location.floor", "location.room"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    assert_eq!(moved.name, cabinet.name);
    let place = moved.location.unwrap();
    assert_eq!(
        (place.floor.as_str(), place.room.as_str()),
        ("4", "Sala 12")
    );
    assert_eq!(place.ward, "Pediatria");

    let bad = client
        .update_dispenser(authed(
            UpdateDispenserRequest {
                dispenser: Some(Dispenser {
                    id: cabinet.id.clone(),
                    ..Dispenser::default()
                }),
                update_mask: mask(&["code", "location.ward", "status"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad),
        ["update_mask", "dispenser.location.ward", "dispenser.status"]
    );

    let status = |status: DispenserStatus| UpdateDispenserRequest {
        dispenser: Some(Dispenser {
            id: cabinet.id.clone(),
            status: status.into(),
            ..Dispenser::default()
        }),
        update_mask: mask(&["status"]),
    };
    let retired = client
        .update_dispenser(authed(status(DispenserStatus::Retired), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    assert_eq!(retired.status(), DispenserStatus::Retired);
    let back = client
        .update_dispenser(authed(status(DispenserStatus::Active), &staff.pharmacist))
        .await
        .unwrap_err();
    assert_eq!(back.code(), Code::FailedPrecondition);
    let nurse = client
        .update_dispenser(authed(status(DispenserStatus::Retired), &staff.nurse))
        .await
        .unwrap_err();
    assert_eq!(nurse.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_pocket_holds_an_active_item_and_keeps_it_while_stocked() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let cabinet = create_dispenser(
        &mut client,
        &staff.pharmacist,
        "PYX-CC-01",
        "Centro Cirúrgico",
    )
    .await;
    let morfina = create_medicine(&mut client, &staff.pharmacist, medicine("Morfina", true)).await;
    let gaze = create_material(&mut client, &staff.pharmacist, "Gaze").await;

    let bad = client
        .set_pocket(authed(
            SetPocketRequest {
                dispenser_id: cabinet.id.clone(),
                pocket: "A 01".into(),
                item_id: "x".into(),
                minimum: -1,
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["pocket", "item_id", "minimum"]);
    let unknown = set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        &uuid::Uuid::now_v7().to_string(),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let pocket = set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "a-01",
        &morfina.id,
        2,
    )
    .await
    .unwrap();
    assert_eq!(pocket.pocket, "A-01");
    assert_eq!((pocket.quantity, pocket.minimum), (0, 2));
    let item = pocket.item.unwrap();
    assert_eq!(item.kind(), ItemKind::Medicine);
    assert!(item.controlled);

    // Empty: it may change item. Stocked: it keeps its item, but its
    // minimum may change.
    set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        &gaze.id,
        0,
    )
    .await
    .unwrap();
    movement(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        MovementKind::Restock,
        10,
    )
    .await
    .unwrap();
    let refused = set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        &morfina.id,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let kept = set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        &gaze.id,
        4,
    )
    .await
    .unwrap();
    assert_eq!((kept.quantity, kept.minimum), (10, 4));

    client
        .deactivate_medicine(authed(
            DeactivateMedicineRequest {
                medicine_id: morfina.id.clone(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap();
    let inactive = set_pocket(
        &mut client,
        &staff.pharmacist,
        &cabinet,
        "B-01",
        &morfina.id,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(inactive.code(), Code::FailedPrecondition);
    let nurse = set_pocket(&mut client, &staff.nurse, &cabinet, "B-02", &gaze.id, 0)
        .await
        .unwrap_err();
    assert_eq!(nurse.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_scanned_qr_code_resolves_to_its_cabinet_and_its_png_decodes_to_the_url() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let cabinet =
        create_dispenser(&mut client, &staff.pharmacist, "PYX-UTI-09", "UTI Adulto").await;

    let png = client
        .get_dispenser_qr(authed(
            GetDispenserQrRequest {
                dispenser_id: cabinet.id.clone(),
                qr_file: "qr.png".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(png.content_type, "image/png");
    assert_eq!(decode_qr(&png.data), cabinet.qr_url);

    let svg = client
        .get_dispenser_qr(authed(
            GetDispenserQrRequest {
                dispenser_id: cabinet.id.clone(),
                qr_file: "QR.SVG".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(svg.content_type, "image/svg+xml");
    assert!(String::from_utf8(svg.data).unwrap().contains("<svg"));
    let bad = client
        .get_dispenser_qr(authed(
            GetDispenserQrRequest {
                dispenser_id: "x".into(),
                qr_file: "qr.gif".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["dispenser_id", "qr_file"]);

    for scanned in [
        cabinet.qr_url.clone(),
        format!("urn:malha:dispenser:{}", cabinet.id),
        format!("https://old.example/dispensers/{}?utm=label", cabinet.id),
    ] {
        let resolved = client
            .resolve_qr(authed(ResolveQrRequest { payload: scanned }, &staff.nurse))
            .await
            .unwrap()
            .into_inner()
            .dispenser
            .unwrap();
        assert_eq!(resolved.id, cabinet.id);
    }
    let not_ours = client
        .resolve_qr(authed(
            ResolveQrRequest {
                payload: "https://example.com/patients/1".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&not_ours), ["payload"]);
    let unknown = client
        .resolve_qr(authed(
            ResolveQrRequest {
                payload: format!("urn:malha:dispenser:{}", uuid::Uuid::now_v7()),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

/// The text of the one QR code in a PNG, read by an independent decoder.
pub(super) fn decode_qr(png: &[u8]) -> String {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let image = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn the_edge_answers_the_qr_code_as_an_image() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let cabinet =
        create_dispenser(&mut client, &staff.pharmacist, "PYX-EDGE-01", "UTI Adulto").await;
    let edge = app.edge().await;
    let http = reqwest::Client::new();

    let png = http
        .get(format!(
            "{}/v1/pharmacy/dispensers/{}/qr.png",
            edge.url, cabinet.id
        ))
        .bearer_auth(&staff.nurse)
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(decode_qr(&bytes), cabinet.qr_url);

    let svg = http
        .get(format!(
            "{}/v1/pharmacy/dispensers/{}/qr.svg",
            edge.url, cabinet.id
        ))
        .bearer_auth(&staff.nurse)
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    // Errors stay JSON statuses.
    let unknown = edge
        .get(
            &format!("/v1/pharmacy/dispensers/{}/qr.png", uuid::Uuid::now_v7()),
            Some(&staff.nurse),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.content_type, "application/json");
    let anonymous = edge
        .get(
            &format!("/v1/pharmacy/dispensers/{}/qr.png", cabinet.id),
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
    edge.stop().await;
}
