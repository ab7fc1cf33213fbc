//! gRPC handlers of `malha.identity.v1.IdentityService`: decode, validate,
//! call the domain and the store, map errors. Grouped by concern:
//! [`sessions`] (login, tokens, keys), [`people`] (people, users, bootstrap),
//! [`customers`], [`accounts`] (service accounts).

mod accounts;
mod convert;
mod customers;
mod people;
mod sessions;

use tonic::Request;

use crate::Identity;
use malha_api::identity::identity_service_server::IdentityService;
use malha_api::identity::*;

use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

#[tonic::async_trait]
impl IdentityService for Identity {
    async fn bootstrap_admin(
        &self,
        r: Request<BootstrapAdminRequest>,
    ) -> Reply<BootstrapAdminResponse> {
        reply(people::bootstrap_admin(self, r.into_inner()).await)
    }
    async fn login(&self, r: Request<LoginRequest>) -> Reply<LoginResponse> {
        reply(sessions::login(self, r.into_inner()).await)
    }
    async fn activate_account(
        &self,
        r: Request<ActivateAccountRequest>,
    ) -> Reply<ActivateAccountResponse> {
        reply(sessions::activate(self, r.into_inner()).await)
    }
    async fn refresh_token(&self, r: Request<RefreshTokenRequest>) -> Reply<RefreshTokenResponse> {
        reply(sessions::refresh(self, r.into_inner()).await)
    }
    async fn logout(&self, r: Request<LogoutRequest>) -> Reply<LogoutResponse> {
        reply(sessions::logout(self, r.into_inner()).await)
    }
    async fn validate_token(
        &self,
        r: Request<ValidateTokenRequest>,
    ) -> Reply<ValidateTokenResponse> {
        reply(sessions::validate(self, r.into_inner()).await)
    }
    async fn get_jwks(&self, _: Request<GetJwksRequest>) -> Reply<GetJwksResponse> {
        reply(sessions::jwks(self).await)
    }
    async fn rotate_signing_key(
        &self,
        _: Request<RotateSigningKeyRequest>,
    ) -> Reply<RotateSigningKeyResponse> {
        reply(sessions::rotate_key(self).await)
    }
    async fn create_person(&self, r: Request<CreatePersonRequest>) -> Reply<CreatePersonResponse> {
        reply(people::create_person(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_person(&self, r: Request<GetPersonRequest>) -> Reply<GetPersonResponse> {
        reply(people::get_person(self, r.into_inner()).await)
    }
    async fn create_user(&self, r: Request<CreateUserRequest>) -> Reply<CreateUserResponse> {
        reply(people::create_user(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_user(&self, r: Request<GetUserRequest>) -> Reply<GetUserResponse> {
        reply(people::get_user(self, r.into_inner()).await)
    }
    async fn list_users(&self, r: Request<ListUsersRequest>) -> Reply<ListUsersResponse> {
        reply(people::list_users(self, r.into_inner()).await)
    }
    async fn set_user_roles(&self, r: Request<SetUserRolesRequest>) -> Reply<SetUserRolesResponse> {
        reply(people::set_user_roles(self, r.into_inner()).await)
    }
    async fn get_me(&self, r: Request<GetMeRequest>) -> Reply<GetMeResponse> {
        reply(sessions::me(self, &r))
    }
    async fn create_service_account(
        &self,
        r: Request<CreateServiceAccountRequest>,
    ) -> Reply<CreateServiceAccountResponse> {
        reply(accounts::create(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn disable_service_account(
        &self,
        r: Request<DisableServiceAccountRequest>,
    ) -> Reply<DisableServiceAccountResponse> {
        reply(accounts::disable(self, r.into_inner()).await)
    }
    async fn issue_service_token(
        &self,
        r: Request<IssueServiceTokenRequest>,
    ) -> Reply<IssueServiceTokenResponse> {
        reply(accounts::issue_token(self, r.into_inner()).await)
    }
    async fn register_customer(
        &self,
        r: Request<RegisterCustomerRequest>,
    ) -> Reply<RegisterCustomerResponse> {
        reply(customers::register(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn identify_customer(
        &self,
        r: Request<IdentifyCustomerRequest>,
    ) -> Reply<IdentifyCustomerResponse> {
        reply(customers::identify(self, r.into_inner()).await)
    }
    async fn create_anonymous_customer(
        &self,
        r: Request<CreateAnonymousCustomerRequest>,
    ) -> Reply<CreateAnonymousCustomerResponse> {
        reply(customers::anonymous(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_customer(&self, r: Request<GetCustomerRequest>) -> Reply<GetCustomerResponse> {
        reply(customers::get(self, r.into_inner()).await)
    }
    async fn list_customers(
        &self,
        r: Request<ListCustomersRequest>,
    ) -> Reply<ListCustomersResponse> {
        reply(customers::list(self, r.into_inner()).await)
    }
}
