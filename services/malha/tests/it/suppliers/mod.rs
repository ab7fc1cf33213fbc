//! Every suppliers RPC through a real server and client: CRUD with CNPJ
//! rules, the update mask, delete versus deactivate, supplied products, and
//! who may call what.

mod lifecycle;
mod products;

use std::time::SystemTime;

use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{TestApp, authed, violated_fields};
use malha_api::identity::IssueServiceTokenRequest;
use malha_api::malha::suppliers::v1::suppliers_service_client::SuppliersServiceClient;
use malha_api::malha::suppliers::v1::*;

type Client = SuppliersServiceClient<Channel>;

/// A valid supplier with this CNPJ.
fn supplier(cnpj: &str) -> Supplier {
    Supplier {
        legal_name: "Aços Brasil Indústria e Comércio Ltda".into(),
        trade_name: "Aços Brasil".into(),
        cnpj: cnpj.into(),
        contacts: vec![
            Contact {
                name: "Marta Souza".into(),
                email: "vendas@acosbrasil.com.br".into(),
                phone: "+55 (11) 91234-5678".into(),
                role: "vendas".into(),
            },
            Contact {
                name: "Rui Lima".into(),
                email: String::new(),
                phone: "(11) 3333-4444".into(),
                role: String::new(),
            },
        ],
        address: Some(Address {
            street: "Avenida Paulista".into(),
            number: "1000".into(),
            complement: "sala 12".into(),
            district: "Bela Vista".into(),
            city: "São Paulo".into(),
            state: "SP".into(),
            postal_code: "01310-100".into(),
        }),
        ..Supplier::default()
    }
}

async fn create(client: &mut Client, token: &str, s: Supplier) -> Supplier {
    client
        .create_supplier(authed(
            CreateSupplierRequest {
                supplier: Some(s),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("create supplier")
        .into_inner()
        .supplier
        .unwrap()
}

async fn get(client: &mut Client, token: &str, id: &str) -> Result<Supplier, tonic::Status> {
    let response = client
        .get_supplier(authed(
            GetSupplierRequest {
                supplier_id: id.into(),
            },
            token,
        ))
        .await?;
    Ok(response.into_inner().supplier.unwrap())
}

async fn list(
    client: &mut Client,
    token: &str,
    request: ListSuppliersRequest,
) -> ListSuppliersResponse {
    client
        .list_suppliers(authed(request, token))
        .await
        .expect("list suppliers")
        .into_inner()
}

/// A proto timestamp as a `SystemTime`, which compares in time order.
fn instant<T>(t: Option<T>) -> SystemTime
where
    SystemTime: TryFrom<T>,
    <SystemTime as TryFrom<T>>::Error: std::fmt::Debug,
{
    SystemTime::try_from(t.expect("a timestamp")).expect("a representable time")
}

/// An update of `supplier` with these mask paths (none: the implied mask).
fn update_request(supplier: Supplier, paths: &[&str]) -> UpdateSupplierRequest {
    let mut request = UpdateSupplierRequest {
        supplier: Some(supplier),
        update_mask: None,
    };
    if !paths.is_empty() {
        let mut mask = request.update_mask.take().unwrap_or_default();
        mask.paths = paths.iter().map(|p| (*p).to_owned()).collect();
        request.update_mask = Some(mask);
    }
    request
}

fn product(supplier_id: &str, name: &str) -> AddSuppliedProductRequest {
    AddSuppliedProductRequest {
        supplier_id: supplier_id.into(),
        product_id: uuid::Uuid::now_v7().to_string(),
        product_name: name.into(),
        supplier_sku: format!("SKU-{name}"),
        price_centavos: Some(12_34),
        lead_time_days: 7,
    }
}

async fn add(
    client: &mut Client,
    token: &str,
    request: AddSuppliedProductRequest,
) -> Result<SuppliedProduct, tonic::Status> {
    let response = client.add_supplied_product(authed(request, token)).await?;
    Ok(response.into_inner().supplied_product.unwrap())
}
