//! The demo hospital `malha up` seeds: two wards, three stocked cabinets, a
//! dozen medicines (one controlled) and materials, a nurse who finds items
//! and a pharmacist who moves them; a second run loads nothing twice.

use super::*;
use malha::cli::seed::{
    DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, DEMO_DISPENSERS, DEMO_MATERIALS, DEMO_MEDICINES,
    DEMO_STAFF,
};
use malha_api::identity::LoginRequest;

async fn login(app: &TestApp, username: &str, password: &str) -> String {
    app.identity()
        .await
        .login(LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

#[tokio::test]
async fn the_demo_hospital_is_seeded_once_and_its_staff_find_and_move_items() {
    let app = TestApp::spawn().await;
    malha::cli::seed::demo(&app.url).await.unwrap();
    malha::cli::seed::hospital(&app.url).await.unwrap();
    malha::cli::seed::hospital(&app.url)
        .await
        .expect("a second seed changes nothing");

    let admin = login(&app, DEMO_ADMIN_USERNAME, DEMO_ADMIN_PASSWORD).await;
    let nurse = DEMO_STAFF.iter().find(|s| s.role == "nurse").unwrap();
    let pharmacist = DEMO_STAFF.iter().find(|s| s.role == "pharmacist").unwrap();
    let nurse = login(&app, nurse.username, nurse.password).await;
    let pharmacist = login(&app, pharmacist.username, pharmacist.password).await;
    let mut client = client(&app).await;

    let dispensers = client
        .list_dispensers(authed(ListDispensersRequest::default(), &nurse))
        .await
        .unwrap()
        .into_inner()
        .dispensers;
    assert_eq!(dispensers.len(), DEMO_DISPENSERS.len());
    let wards: std::collections::BTreeSet<_> = dispensers
        .iter()
        .map(|d| d.location.as_ref().unwrap().ward.clone())
        .collect();
    assert_eq!(wards.len(), 2);
    assert!(
        dispensers
            .iter()
            .all(|d| d.pockets.iter().all(|p| p.quantity > 0))
    );
    let medicines = client
        .list_medicines(authed(ListMedicinesRequest::default(), &nurse))
        .await
        .unwrap()
        .into_inner()
        .medicines;
    assert_eq!(medicines.len(), DEMO_MEDICINES.len());
    assert_eq!(medicines.iter().filter(|m| m.controlled).count(), 1);
    let materials = client
        .list_materials(authed(ListMaterialsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .materials;
    assert_eq!(materials.len(), DEMO_MATERIALS.len());

    // The nurse in the UTI finds dipyrone there first.
    let dipirona = medicines
        .iter()
        .find(|m| m.name == "Dipirona sódica")
        .unwrap();
    let found = client
        .find_item(authed(
            FindItemRequest {
                item_id: dipirona.id.clone(),
                ward: "UTI Adulto".into(),
            },
            &nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .locations;
    assert!(found.len() >= 2, "{found:?}");
    assert!(found[0].in_ward);
    assert!(found.iter().any(|l| !l.in_ward));

    // The pharmacist dispenses; the controlled trail verifies.
    let first = &found[0];
    let cabinet = dispensers
        .iter()
        .find(|d| d.id == first.dispenser_id)
        .unwrap();
    movement(
        &mut client,
        &pharmacist,
        cabinet,
        &first.pocket,
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap();
    let audit = client
        .verify_audit(authed(VerifyAuditRequest {}, &pharmacist))
        .await
        .unwrap()
        .into_inner();
    assert!(audit.valid);
    assert!(audit.entries >= 1, "morphine restocks are audited");
}
