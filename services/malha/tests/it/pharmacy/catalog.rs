//! Medicines and materials: validation naming each field, idempotent
//! creates, filters and pages by name, masks, deactivation once, roles.

use tonic::Code;

use super::*;
use crate::helpers::{mask, violated_fields};

#[tokio::test]
async fn a_medicine_is_created_once_per_request_id_and_every_bad_field_is_named() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;

    let invalid = client
        .create_medicine(authed(
            CreateMedicineRequest {
                medicine: Some(Medicine {
                    name: " ".into(),
                    active_ingredient: "x".repeat(201),
                    strength: String::new(),
                    dosage_form: "comprimido".into(),
                    unit: String::new(),
                    ..Medicine::default()
                }),
                request_id: "not-a-uuid".into(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&invalid),
        [
            "medicine.name",
            "medicine.active_ingredient",
            "medicine.strength",
            "medicine.unit",
            "request_id"
        ]
    );
    let missing = client
        .create_medicine(authed(CreateMedicineRequest::default(), &staff.pharmacist))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&missing), ["medicine"]);

    let request_id = uuid::Uuid::now_v7().to_string();
    let request = CreateMedicineRequest {
        medicine: Some(medicine("  Dipirona sódica ", false)),
        request_id: request_id.clone(),
    };
    let first = client
        .create_medicine(authed(request.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_eq!(first.name, "Dipirona sódica");
    assert!(first.active);
    let again = client
        .create_medicine(authed(request.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_eq!(again.id, first.id, "a retry returns the first medicine");

    // Another caller's same request_id is its own key: a new medicine.
    let admins = client
        .create_medicine(authed(request, &staff.admin))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_ne!(admins.id, first.id);

    // The same key with another body is refused.
    let reused = client
        .create_medicine(authed(
            CreateMedicineRequest {
                medicine: Some(medicine("Outro", false)),
                request_id,
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&reused), ["request_id"]);

    let got = client
        .get_medicine(authed(
            GetMedicineRequest {
                medicine_id: first.id.clone(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_eq!(got, first);
    let unknown = client
        .get_medicine(authed(
            GetMedicineRequest {
                medicine_id: uuid::Uuid::now_v7().to_string(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_medicine(authed(
            GetMedicineRequest {
                medicine_id: "x".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&malformed), ["medicine_id"]);
}

#[tokio::test]
async fn medicines_list_by_name_with_filters_and_pages() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    for (name, controlled) in [
        ("Morfina", true),
        ("Amoxicilina", false),
        ("Dipirona", false),
        ("Captopril", false),
    ] {
        create_medicine(&mut client, &staff.pharmacist, medicine(name, controlled)).await;
    }

    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_medicines(authed(
                ListMedicinesRequest {
                    page_size: 3,
                    page_token: page_token.clone(),
                    ..ListMedicinesRequest::default()
                },
                &staff.nurse,
            ))
            .await
            .unwrap()
            .into_inner();
        names.extend(page.medicines.into_iter().map(|m| m.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(names, ["Amoxicilina", "Captopril", "Dipirona", "Morfina"]);

    let list = |request: ListMedicinesRequest| {
        let mut client = client.clone();
        let token = staff.nurse.clone();
        async move {
            client
                .list_medicines(authed(request, &token))
                .await
                .unwrap()
                .into_inner()
                .medicines
                .into_iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(ListMedicinesRequest {
            controlled: Some(true),
            ..ListMedicinesRequest::default()
        })
        .await,
        ["Morfina"]
    );
    assert_eq!(
        list(ListMedicinesRequest {
            query: "PIRON".into(),
            ..ListMedicinesRequest::default()
        })
        .await,
        ["Dipirona"]
    );
    // The query matches the active ingredient too, and `%` is literal.
    assert_eq!(
        list(ListMedicinesRequest {
            query: "captopril (ingredient".into(),
            ..ListMedicinesRequest::default()
        })
        .await,
        ["Captopril"]
    );
    assert!(
        list(ListMedicinesRequest {
            query: "%".into(),
            ..ListMedicinesRequest::default()
        })
        .await
        .is_empty()
    );

    let bad = client
        .list_medicines(authed(
            ListMedicinesRequest {
                page_size: -1,
                page_token: "@@".into(),
                query: "q".repeat(201),
                ..ListMedicinesRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["page_size", "query"]);
}

#[tokio::test]
async fn a_medicine_updates_by_mask_and_is_deactivated_once() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let created =
        create_medicine(&mut client, &staff.pharmacist, medicine("Tramadol", false)).await;

    let updated = client
        .update_medicine(authed(
            UpdateMedicineRequest {
                medicine: Some(Medicine {
                    id: created.id.clone(),
                    name: "ignored: not in the mask".into(),
                    strength: "50 mg/mL".into(),
                    controlled: true,
                    ..Medicine::default()
                }),
                update_mask: mask(&["strength", "controlled"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_eq!(updated.name, "Tramadol");
    assert_eq!(updated.strength, "50 mg/mL");
    assert!(updated.controlled);

    let bad = client
        .update_medicine(authed(
            UpdateMedicineRequest {
                medicine: Some(Medicine {
                    id: created.id.clone(),
                    unit: String::new(),
                    ..Medicine::default()
                }),
                update_mask: mask(&["unit", "active", "create_time"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        ["update_mask", "update_mask", "medicine.unit"]
    );

    let deactivate = DeactivateMedicineRequest {
        medicine_id: created.id.clone(),
    };
    let inactive = client
        .deactivate_medicine(authed(deactivate.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert!(!inactive.active);
    let twice = client
        .deactivate_medicine(authed(deactivate, &staff.pharmacist))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let active_only = client
        .list_medicines(authed(
            ListMedicinesRequest {
                active: Some(true),
                ..ListMedicinesRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .medicines;
    assert!(active_only.is_empty());
}

#[tokio::test]
async fn materials_are_created_listed_updated_and_deactivated() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;

    let invalid = client
        .create_material(authed(
            CreateMaterialRequest {
                material: Some(Material {
                    name: String::new(),
                    unit: "u".repeat(51),
                    ..Material::default()
                }),
                request_id: String::new(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&invalid),
        ["material.name", "material.unit"]
    );

    let request = CreateMaterialRequest {
        material: Some(Material {
            name: "Gaze estéril".into(),
            unit: "pacote".into(),
            ..Material::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let gauze = client
        .create_material(authed(request.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .material
        .unwrap();
    let again = client
        .create_material(authed(request, &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .material
        .unwrap();
    assert_eq!(again.id, gauze.id);
    create_material(&mut client, &staff.pharmacist, "Seringa 10 mL").await;
    create_material(&mut client, &staff.pharmacist, "Cateter venoso").await;

    let first = client
        .list_materials(authed(
            ListMaterialsRequest {
                page_size: 2,
                ..ListMaterialsRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first.materials.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Cateter venoso", "Gaze estéril"]);
    let second = client
        .list_materials(authed(
            ListMaterialsRequest {
                page_size: 2,
                page_token: first.next_page_token,
                ..ListMaterialsRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.materials.len(), 1);
    assert_eq!(second.materials[0].name, "Seringa 10 mL");
    assert!(second.next_page_token.is_empty());

    let renamed = client
        .update_material(authed(
            UpdateMaterialRequest {
                material: Some(Material {
                    id: gauze.id.clone(),
                    name: "Gaze estéril 7,5 cm".into(),
                    ..Material::default()
                }),
                update_mask: None,
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap()
        .into_inner()
        .material
        .unwrap();
    assert_eq!(renamed.name, "Gaze estéril 7,5 cm");
    assert_eq!(
        renamed.unit, "pacote",
        "an absent mask writes only set fields"
    );

    let deactivate = DeactivateMaterialRequest {
        material_id: gauze.id.clone(),
    };
    client
        .deactivate_material(authed(deactivate.clone(), &staff.pharmacist))
        .await
        .unwrap();
    let twice = client
        .deactivate_material(authed(deactivate, &staff.pharmacist))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let got = client
        .get_material(authed(
            GetMaterialRequest {
                material_id: gauze.id,
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .material
        .unwrap();
    assert!(!got.active, "a deactivated material is kept");
}

#[tokio::test]
async fn nurses_and_services_read_the_catalogue_and_only_pharmacists_keep_it() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let customer = app.customer_token().await;
    let mut client = client(&app).await;
    let created =
        create_medicine(&mut client, &staff.pharmacist, medicine("Insulina", false)).await;
    create_material(&mut client, &staff.admin, "Luva").await;

    for token in [&staff.nurse, &customer] {
        let refused = client
            .create_medicine(authed(
                CreateMedicineRequest {
                    medicine: Some(medicine("Proibido", false)),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
        let refused = client
            .deactivate_material(authed(
                DeactivateMaterialRequest {
                    material_id: uuid::Uuid::now_v7().to_string(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let refused = client
        .get_medicine(authed(
            GetMedicineRequest {
                medicine_id: created.id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let anonymous = client
        .list_materials(ListMaterialsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Care reads items with its own service token.
    let credentials = app.service_account(&staff.admin, "care").await;
    let service = app
        .identity()
        .await
        .issue_service_token(malha_api::identity::IssueServiceTokenRequest {
            client_id: credentials.client_id,
            client_secret: credentials.client_secret.expose().to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let read = client
        .get_medicine(authed(
            GetMedicineRequest {
                medicine_id: created.id,
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner()
        .medicine
        .unwrap();
    assert_eq!(read.name, "Insulina");
    let refused = client
        .create_material(authed(
            CreateMaterialRequest {
                material: Some(Material {
                    name: "x".into(),
                    unit: "x".into(),
                    ..Material::default()
                }),
                request_id: String::new(),
            },
            &service,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}
