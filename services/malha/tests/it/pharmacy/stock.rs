//! Stock at the cabinets: movements that never go negative (the database
//! refuses too), idempotent, naming who and why; the ledger newest first;
//! the hash-chained audit of controlled medicines found broken when edited;
//! "where is item X" with the caller's ward first; `pharmacy.stock.*`
//! events; and batches of dispenses for one source recorded all or nothing,
//! once.

use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use tonic::Code;

use super::*;
use crate::helpers::violated_fields;
use malha_kit::events::Envelope;
use malha_pharmacy::store::stock::{DispenseBatch, DispenseLine, DispenseOutcome, dispense_once};

const WAIT: Duration = Duration::from_secs(10);

/// A cabinet with one pocket of a controlled medicine and one of a material.
struct Stocked {
    cabinet: Dispenser,
    morfina: Medicine,
    gaze: Material,
}

async fn stocked(client: &mut Client, staff: &Staff, code: &str, ward: &str) -> Stocked {
    let cabinet = create_dispenser(client, &staff.pharmacist, code, ward).await;
    let morfina = create_medicine(client, &staff.pharmacist, medicine("Morfina 10 mg", true)).await;
    let gaze = create_material(client, &staff.pharmacist, "Gaze").await;
    set_pocket(client, &staff.pharmacist, &cabinet, "A-01", &morfina.id, 3)
        .await
        .unwrap();
    set_pocket(client, &staff.pharmacist, &cabinet, "B-01", &gaze.id, 0)
        .await
        .unwrap();
    movement(
        client,
        &staff.pharmacist,
        &cabinet,
        "A-01",
        MovementKind::Restock,
        5,
    )
    .await
    .unwrap();
    movement(
        client,
        &staff.pharmacist,
        &cabinet,
        "B-01",
        MovementKind::Restock,
        20,
    )
    .await
    .unwrap();
    Stocked {
        cabinet,
        morfina,
        gaze,
    }
}

async fn pocket_quantity(
    client: &mut Client,
    token: &str,
    cabinet: &Dispenser,
    pocket: &str,
) -> i64 {
    client
        .get_dispenser(authed(
            GetDispenserRequest {
                dispenser_id: cabinet.id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap()
        .pockets
        .into_iter()
        .find(|p| p.pocket == pocket)
        .unwrap()
        .quantity
}

#[tokio::test]
async fn movements_name_who_and_why_and_never_take_a_pocket_below_zero() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let s = stocked(&mut client, &staff, "PYX-UTI-01", "UTI Adulto").await;

    let invalid = client
        .record_movement(authed(
            RecordMovementRequest {
                dispenser_id: s.cabinet.id.clone(),
                pocket: "A 01".into(),
                kind: MovementKind::Dispense.into(),
                quantity: -1,
                reason: " ".into(),
                request_id: "x".into(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&invalid),
        ["pocket", "quantity", "reason", "request_id"]
    );
    let no_kind = client
        .record_movement(authed(
            RecordMovementRequest {
                dispenser_id: s.cabinet.id.clone(),
                pocket: "A-01".into(),
                quantity: 1,
                reason: "count".into(),
                ..RecordMovementRequest::default()
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_kind), ["kind"]);

    let too_many = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Dispense,
        6,
    )
    .await
    .unwrap_err();
    assert_eq!(too_many.code(), Code::FailedPrecondition);
    assert!(
        too_many.message().contains("holds 5"),
        "{}",
        too_many.message()
    );
    let count = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Adjust,
        -6,
    )
    .await
    .unwrap_err();
    assert_eq!(count.code(), Code::FailedPrecondition);
    let unknown_pocket = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "Z-99",
        MovementKind::Restock,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown_pocket.code(), Code::NotFound);

    let request = RecordMovementRequest {
        dispenser_id: s.cabinet.id.clone(),
        pocket: "A-01".into(),
        kind: MovementKind::Dispense.into(),
        quantity: 2,
        reason: "leito 12, prescrição 4471".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let dispensed = client
        .record_movement(authed(request.clone(), &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .movement
        .unwrap();
    assert_eq!((dispensed.delta, dispensed.balance), (-2, 3));
    assert!(dispensed.actor.starts_with("user:"), "{}", dispensed.actor);
    assert_eq!(dispensed.reason, "leito 12, prescrição 4471");
    let retried = client
        .record_movement(authed(request, &staff.pharmacist))
        .await
        .unwrap()
        .into_inner()
        .movement
        .unwrap();
    assert_eq!(retried.id, dispensed.id, "a retry records nothing new");
    assert_eq!(
        pocket_quantity(&mut client, &staff.nurse, &s.cabinet, "A-01").await,
        3
    );
    let returned = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Return,
        1,
    )
    .await
    .unwrap();
    assert_eq!(returned.balance, 4);

    // The database refuses a negative quantity and an edited ledger whatever
    // the code does.
    let db = malha_kit::db::pool(&app.database_url, None, &malha_pharmacy::SCHEMA, 1).unwrap();
    let negative = sqlx::query("UPDATE pockets SET quantity = -1 WHERE pocket = 'A-01'")
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(
        negative.as_database_error().unwrap().code().as_deref(),
        Some("23514")
    );
    let edited = sqlx::query("UPDATE movements SET quantity = 1")
        .execute(&db)
        .await
        .unwrap_err();
    assert!(edited.to_string().contains("append-only"), "{edited}");

    // Nurses read the ledger but move nothing; the ledger is newest first.
    let nurse = movement(
        &mut client,
        &staff.nurse,
        &s.cabinet,
        "B-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(nurse.code(), Code::PermissionDenied);
    let page = client
        .list_movements(authed(
            ListMovementsRequest {
                dispenser_id: s.cabinet.id.clone(),
                page_size: 2,
                ..ListMovementsRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<_> = page.movements.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, [MovementKind::Return, MovementKind::Dispense]);
    let rest = client
        .list_movements(authed(
            ListMovementsRequest {
                dispenser_id: s.cabinet.id.clone(),
                page_size: 10,
                page_token: page.next_page_token,
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.movements.len(), 2, "the two restocks");
    assert_eq!(
        rest.movements[1].item.as_ref().unwrap().name,
        "Morfina 10 mg"
    );
    let unknown = client
        .list_movements(authed(
            ListMovementsRequest {
                dispenser_id: uuid::Uuid::now_v7().to_string(),
                ..ListMovementsRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn a_cabinet_in_maintenance_takes_restocks_but_dispenses_nothing() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let s = stocked(&mut client, &staff, "PYX-MNT-01", "UTI Adulto").await;
    client
        .update_dispenser(authed(
            UpdateDispenserRequest {
                dispenser: Some(Dispenser {
                    id: s.cabinet.id.clone(),
                    status: DispenserStatus::Maintenance.into(),
                    ..Dispenser::default()
                }),
                update_mask: crate::helpers::mask(&["status"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap();
    let refused = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "B-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "B-01",
        MovementKind::Restock,
        1,
    )
    .await
    .unwrap();
    assert_eq!(
        pocket_quantity(&mut client, &staff.nurse, &s.cabinet, "B-01").await,
        21
    );
}

#[tokio::test]
async fn controlled_movements_are_chained_and_an_edited_entry_is_found() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let s = stocked(&mut client, &staff, "PYX-CC-01", "Centro Cirúrgico").await;
    let dispensed = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap();
    movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "B-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap();

    let verified = client
        .verify_audit(authed(VerifyAuditRequest {}, &staff.pharmacist))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid);
    assert_eq!(
        verified.entries, 2,
        "the morphine restock and dispense, not the gauze"
    );
    assert_eq!(verified.head_hash.len(), 64);
    let nurse = client
        .verify_audit(authed(VerifyAuditRequest {}, &staff.nurse))
        .await
        .unwrap_err();
    assert_eq!(nurse.code(), Code::PermissionDenied);

    // Someone with the database's keys edits the dispensed quantity.
    let db = malha_kit::db::pool(&app.database_url, None, &malha_pharmacy::SCHEMA, 1).unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET delta = -10 WHERE sequence = 2")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let broken = client
        .verify_audit(authed(VerifyAuditRequest {}, &staff.admin))
        .await
        .unwrap()
        .into_inner();
    assert!(!broken.valid);
    assert_eq!(broken.first_broken_movement_id, dispensed.id);
}

#[tokio::test]
async fn an_item_is_found_in_the_callers_ward_first_then_the_fullest() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let dipirona =
        create_medicine(&mut client, &staff.pharmacist, medicine("Dipirona", false)).await;
    let mut cabinets = Vec::new();
    for (code, ward, quantity) in [
        ("PYX-PS-01", "Pronto-Socorro", 40),
        ("PYX-UTI-01", "UTI Adulto", 3),
        ("PYX-PED-01", "Pediatria", 12),
        ("PYX-OFF-01", "Pediatria", 50),
    ] {
        let cabinet = create_dispenser(&mut client, &staff.pharmacist, code, ward).await;
        set_pocket(
            &mut client,
            &staff.pharmacist,
            &cabinet,
            "C-02",
            &dipirona.id,
            0,
        )
        .await
        .unwrap();
        movement(
            &mut client,
            &staff.pharmacist,
            &cabinet,
            "C-02",
            MovementKind::Restock,
            quantity,
        )
        .await
        .unwrap();
        cabinets.push(cabinet);
    }
    // A retired cabinet is not where anyone finds anything.
    client
        .update_dispenser(authed(
            UpdateDispenserRequest {
                dispenser: Some(Dispenser {
                    id: cabinets[3].id.clone(),
                    status: DispenserStatus::Retired.into(),
                    ..Dispenser::default()
                }),
                update_mask: crate::helpers::mask(&["status"]),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap();

    let found = client
        .find_item(authed(
            FindItemRequest {
                item_id: dipirona.id.clone(),
                ward: "uti adulto".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.item.unwrap().name, "Dipirona");
    let order: Vec<_> = found
        .locations
        .iter()
        .map(|l| (l.dispenser_code.as_str(), l.quantity, l.in_ward))
        .collect();
    assert_eq!(
        order,
        [
            ("PYX-UTI-01", 3, true),
            ("PYX-PS-01", 40, false),
            ("PYX-PED-01", 12, false)
        ]
    );
    assert_eq!(found.locations[0].pocket, "C-02");
    assert_eq!(found.locations[0].location.as_ref().unwrap().floor, "3");

    let unknown = client
        .find_item(authed(
            FindItemRequest {
                item_id: uuid::Uuid::now_v7().to_string(),
                ward: String::new(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let bad = client
        .find_item(authed(FindItemRequest::default(), &staff.nurse))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["item_id"]);
}

#[tokio::test]
async fn dispenses_and_a_fall_below_the_minimum_are_published_once() {
    let app = TestApp::spawn().await;
    let nats = async_nats::connect(app.nats.url()).await.unwrap();
    let mut dispensed = nats.subscribe("pharmacy.stock.dispensed").await.unwrap();
    let mut lows = nats.subscribe("pharmacy.stock.low").await.unwrap();
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let s = stocked(&mut client, &staff, "PYX-EV-01", "UTI Adulto").await;

    // 5 → 3 reaches the minimum of 3; 3 → 2 falls below it; 2 → 1 is
    // already low.
    for _ in 0..2 {
        movement(
            &mut client,
            &staff.pharmacist,
            &s.cabinet,
            "A-01",
            MovementKind::Dispense,
            1,
        )
        .await
        .unwrap();
    }
    let below = movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap();
    movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "A-01",
        MovementKind::Dispense,
        1,
    )
    .await
    .unwrap();

    let open = |payload: &[u8]| Envelope::decode(payload).unwrap();
    let mut balances = Vec::new();
    for _ in 0..4 {
        let message = tokio::time::timeout(WAIT, dispensed.next())
            .await
            .unwrap()
            .unwrap();
        let event: StockDispensed = malha_kit::events::open(&open(&message.payload)).unwrap();
        balances.push(event.movement.unwrap().balance);
    }
    assert_eq!(balances, [4, 3, 2, 1]);
    let message = tokio::time::timeout(WAIT, lows.next())
        .await
        .unwrap()
        .unwrap();
    let low: StockLow = malha_kit::events::open(&open(&message.payload)).unwrap();
    assert_eq!((low.quantity, low.minimum), (below.balance, 3));
    assert_eq!(low.item.unwrap().id, s.morfina.id);
    assert_eq!(low.location.unwrap().ward, "UTI Adulto");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), lows.next())
            .await
            .is_err(),
        "one report per fall"
    );
}

#[tokio::test]
async fn a_batch_for_one_source_is_dispensed_all_or_nothing_and_once() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let mut client = client(&app).await;
    let s = stocked(&mut client, &staff, "PYX-BATCH-01", "UTI Adulto").await;
    // A second pocket of gauze: a batch takes from both.
    set_pocket(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "B-02",
        &s.gaze.id,
        0,
    )
    .await
    .unwrap();
    movement(
        &mut client,
        &staff.pharmacist,
        &s.cabinet,
        "B-02",
        MovementKind::Restock,
        4,
    )
    .await
    .unwrap();
    let db = malha_kit::db::pool(&app.database_url, None, &malha_pharmacy::SCHEMA, 2).unwrap();
    let id = |raw: &str| uuid::Uuid::parse_str(raw).unwrap();
    let dispenser_id = id(&s.cabinet.id);
    let care_request = uuid::Uuid::now_v7();

    // More morphine than the cabinet holds: nothing at all is written.
    let too_much = [
        DispenseLine {
            item_id: id(&s.gaze.id),
            quantity: 2,
        },
        DispenseLine {
            item_id: id(&s.morfina.id),
            quantity: 6,
        },
    ];
    let batch = |lines| DispenseBatch {
        source_key: "care-request:test-1",
        dispenser_id,
        care_request_id: Some(care_request),
        lines,
        actor: "service:care",
        reason: "care request completed",
    };
    let mut tx = db.begin().await.unwrap();
    let outcome = dispense_once(&mut tx, &batch(&too_much)).await.unwrap();
    tx.commit().await.unwrap();
    let DispenseOutcome::Refused(shortfalls) = outcome else {
        panic!("refused: {outcome:?}")
    };
    assert_eq!(shortfalls.len(), 1);
    assert_eq!((shortfalls[0].wanted, shortfalls[0].on_hand), (6, 5));
    assert!(
        shortfalls[0]
            .reason
            .contains("PYX-BATCH-01 holds 5 of Morfina 10 mg, 6 requested")
    );
    assert_eq!(
        pocket_quantity(&mut client, &staff.nurse, &s.cabinet, "B-01").await,
        20
    );

    // 22 of gauze spans both pockets; the same item on two lines adds up.
    let enough = [
        DispenseLine {
            item_id: id(&s.gaze.id),
            quantity: 21,
        },
        DispenseLine {
            item_id: id(&s.morfina.id),
            quantity: 2,
        },
        DispenseLine {
            item_id: id(&s.gaze.id),
            quantity: 1,
        },
    ];
    let mut tx = db.begin().await.unwrap();
    let outcome = dispense_once(&mut tx, &batch(&enough)).await.unwrap();
    tx.commit().await.unwrap();
    let DispenseOutcome::Recorded(movements) = outcome else {
        panic!("recorded: {outcome:?}")
    };
    let taken: Vec<_> = movements
        .iter()
        .map(|m| (m.pocket.as_str(), m.quantity, m.balance))
        .collect();
    // Items in id order (morphine was registered first), pockets in order.
    assert_eq!(taken, [("A-01", 2, 3), ("B-01", 20, 0), ("B-02", 2, 2)]);
    assert!(
        movements
            .iter()
            .all(|m| m.care_request_id == Some(care_request))
    );

    // Redelivered: nothing new, the same movements answered.
    let mut tx = db.begin().await.unwrap();
    let outcome = dispense_once(&mut tx, &batch(&enough)).await.unwrap();
    tx.commit().await.unwrap();
    let DispenseOutcome::AlreadyRecorded(again) = outcome else {
        panic!("already recorded: {outcome:?}")
    };
    let mut first: Vec<_> = movements.iter().map(|m| m.id).collect();
    first.sort();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), first);
    assert_eq!(
        pocket_quantity(&mut client, &staff.nurse, &s.cabinet, "B-02").await,
        2
    );
    assert_eq!(
        pocket_quantity(&mut client, &staff.nurse, &s.cabinet, "A-01").await,
        3
    );
    let listed = client
        .list_movements(authed(
            ListMovementsRequest {
                dispenser_id: s.cabinet.id.clone(),
                ..ListMovementsRequest::default()
            },
            &staff.nurse,
        ))
        .await
        .unwrap()
        .into_inner()
        .movements;
    assert_eq!(listed[0].care_request_id, care_request.to_string());

    // An unknown cabinet refuses the whole batch.
    let mut tx = db.begin().await.unwrap();
    let outcome = dispense_once(
        &mut tx,
        &DispenseBatch {
            source_key: "care-request:test-2",
            dispenser_id: uuid::Uuid::now_v7(),
            ..batch(&enough)
        },
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        matches!(outcome, DispenseOutcome::Refused(_)),
        "{outcome:?}"
    );
}
