//! Units, services and desks: defaults, validation naming each field,
//! idempotent creates, uniqueness within a unit, masks, paging and roles.

use tonic::Code;

use super::*;
use crate::helpers::{mask, violated_fields};

#[tokio::test]
async fn a_unit_defaults_to_sao_paulo_and_updates_by_mask() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;

    let unit = create_unit(&mut client, &admin, "  Clínica Centro ").await;
    assert_eq!(unit.name, "Clínica Centro");
    assert_eq!(unit.time_zone, "America/Sao_Paulo");
    assert_eq!(unit.max_preferential_streak, 2);

    let updated = client
        .update_unit(authed(
            UpdateUnitRequest {
                unit: Some(Unit {
                    id: unit.id.clone(),
                    name: "ignored: not in the mask".into(),
                    time_zone: "America/Manaus".into(),
                    max_preferential_streak: 3,
                    ..Unit::default()
                }),
                update_mask: mask(&["time_zone", "max_preferential_streak"]),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap();
    assert_eq!(updated.name, "Clínica Centro");
    assert_eq!(updated.time_zone, "America/Manaus");
    assert_eq!(updated.max_preferential_streak, 3);

    let bad = client
        .update_unit(authed(
            UpdateUnitRequest {
                unit: Some(Unit {
                    id: unit.id.clone(),
                    time_zone: "Mars/Olympus".into(),
                    ..Unit::default()
                }),
                update_mask: mask(&["time_zone", "id"]),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["update_mask", "unit.time_zone"]);
}

#[tokio::test]
async fn creates_name_every_bad_field_and_a_retry_returns_the_first_unit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;

    let invalid = client
        .create_unit(authed(
            CreateUnitRequest {
                unit: Some(Unit {
                    name: String::new(),
                    time_zone: "Nowhere".into(),
                    max_preferential_streak: -1,
                    ..Unit::default()
                }),
                request_id: "not-a-uuid".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&invalid),
        [
            "unit.name",
            "unit.time_zone",
            "unit.max_preferential_streak",
            "request_id"
        ]
    );

    let request = CreateUnitRequest {
        unit: Some(Unit {
            name: "Clínica Norte".into(),
            ..Unit::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let first = client
        .create_unit(authed(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .create_unit(authed(request, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the retry returns the unit created first");
    let listed = client
        .list_units(authed(ListUnitsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.units.len(), 1, "one unit, not two");
}

#[tokio::test]
async fn letters_and_desk_names_are_unique_per_unit_and_desks_serve_only_their_units_services() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let centro = create_unit(&mut client, &admin, "Centro").await;
    let norte = create_unit(&mut client, &admin, "Norte").await;

    let general = create_service(&mut client, &admin, &centro.id, "Clínica geral", "a")
        .await
        .unwrap();
    assert_eq!(general.letter, "A", "stored in uppercase");
    let exams = create_service(&mut client, &admin, &centro.id, "Exames", "E")
        .await
        .unwrap();
    let taken = create_service(&mut client, &admin, &centro.id, "Outra", "A")
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    // Another unit may use the same letter.
    let north_general = create_service(&mut client, &admin, &norte.id, "Clínica geral", "A")
        .await
        .unwrap();
    let bad_letter = create_service(&mut client, &admin, &centro.id, "Raio X", "RX")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_letter), ["service.letter"]);
    let no_unit = create_service(
        &mut client,
        &admin,
        &uuid::Uuid::now_v7().to_string(),
        "Exames",
        "E",
    )
    .await
    .unwrap_err();
    assert_eq!(no_unit.code(), Code::NotFound);

    let desk = create_desk(
        &mut client,
        &admin,
        &centro.id,
        "Guichê 1",
        &[&exams.id, &general.id],
    )
    .await
    .unwrap();
    let mut expected = vec![general.id.clone(), exams.id.clone()];
    expected.sort();
    assert_eq!(desk.service_ids, expected, "sorted by id");
    let same_name = create_desk(&mut client, &admin, &centro.id, "Guichê 1", &[&general.id])
        .await
        .unwrap_err();
    assert_eq!(same_name.code(), Code::AlreadyExists);
    let foreign = create_desk(
        &mut client,
        &admin,
        &centro.id,
        "Guichê 2",
        &[&north_general.id],
    )
    .await
    .unwrap_err();
    assert_eq!(foreign.code(), Code::FailedPrecondition, "{foreign:?}");
    let none = create_desk(&mut client, &admin, &centro.id, "Guichê 3", &[])
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&none), ["desk.service_ids"]);

    let updated = client
        .update_desk(authed(
            UpdateDeskRequest {
                desk: Some(Desk {
                    id: desk.id.clone(),
                    service_ids: vec![exams.id.clone()],
                    ..Desk::default()
                }),
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .desk
        .unwrap();
    assert_eq!(updated.name, "Guichê 1", "the implied mask leaves the name");
    assert_eq!(updated.service_ids, std::slice::from_ref(&exams.id));
}

#[tokio::test]
async fn lists_page_through_a_units_services_and_desks() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let unit = create_unit(&mut client, &admin, "Centro").await;
    let mut ids = Vec::new();
    for letter in ["C", "A", "B"] {
        ids.push(
            create_service(&mut client, &admin, &unit.id, "Serviço", letter)
                .await
                .unwrap()
                .id,
        );
    }
    for name in ["Sala 2", "Guichê 1", "Sala 1"] {
        create_desk(&mut client, &admin, &unit.id, name, &[&ids[0]])
            .await
            .unwrap();
    }

    let mut letters = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_services(authed(
                ListServicesRequest {
                    unit_id: unit.id.clone(),
                    page_size: 2,
                    page_token: token,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        letters.extend(page.services.into_iter().map(|s| s.letter));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(letters, ["A", "B", "C"]);

    let first = client
        .list_desks(authed(
            ListDesksRequest {
                unit_id: unit.id.clone(),
                page_size: 2,
                page_token: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first.desks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Guichê 1", "Sala 1"]);
    let rest = client
        .list_desks(authed(
            ListDesksRequest {
                unit_id: unit.id.clone(),
                page_size: 2,
                page_token: first.next_page_token,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.desks.len(), 1);
    assert_eq!(rest.desks[0].name, "Sala 2");
    assert!(rest.next_page_token.is_empty());
}

#[tokio::test]
async fn staff_read_but_only_an_administrator_manages_and_customers_see_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let employee = app.employee_token(&admin, "recepcao").await;
    let customer = app.customer_token().await;
    let mut client = client(&app).await;
    let unit = create_unit(&mut client, &admin, "Centro").await;

    let read = client
        .get_unit(authed(
            GetUnitRequest {
                unit_id: unit.id.clone(),
            },
            &employee,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.unit.unwrap(), unit);

    let refused = client
        .create_unit(authed(
            CreateUnitRequest {
                unit: Some(Unit {
                    name: "Outra".into(),
                    ..Unit::default()
                }),
                request_id: String::new(),
            },
            &employee,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let hidden = client
        .list_units(authed(ListUnitsRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::PermissionDenied);
}
