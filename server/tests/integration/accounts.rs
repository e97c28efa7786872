//! Accounts over the REST API: sign-up, sign-in, sessions, organizations,
//! roles, invitations and API tokens, on SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, PASSWORD, TestServer, add_member, assert_error, first_org};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

on_every_backend!(
    sign_up_creates_the_user_an_organization_and_a_session,
    sign_up_validates_its_input,
    log_in_and_log_out,
    failed_logins_are_throttled,
    changing_the_password_ends_other_sessions,
    closed_sign_up_still_lets_the_first_user_in_and_invitations_work,
    tokens_are_shown_once_stored_hashed_and_revocable,
    token_scopes_and_bearer_errors,
    expired_tokens_are_refused,
    roles_limit_what_members_may_do,
    the_last_owner_cannot_leave,
    invitations_are_single_use_personal_and_expiring,
    other_tenants_see_nothing,
    cross_site_mutations_are_refused,
    malformed_requests_get_clear_errors,
    idle_sessions_expire,
    active_sessions_stay_signed_in,
    cookies_are_secure_behind_https,
);

async fn sign_up_creates_the_user_an_organization_and_a_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = server.browser();
    let response = ada
        .post(
            "/api/v1/auth/signup",
            json!({"email": "  Ada@Example.COM ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("specula_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag: {cookie}");
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(
        me["user"]["instance_admin"], true,
        "the first user administers the instance"
    );
    assert_eq!(me["organizations"][0]["role"], "owner");
    assert_eq!(me["organizations"][0]["name"], "ada's organization");

    let me_again: Value = ada.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me_again, me);

    let grace = server.browser();
    let me = grace.sign_up("grace@example.com").await;
    assert_eq!(me["user"]["instance_admin"], false);
    assert_ne!(
        first_org(&me),
        first_org(&me_again),
        "each sign-up gets its own organization"
    );

    // The stored hash is argon2id; the password is nowhere.
    use sea_orm::EntityTrait;
    let users = entity::user::Entity::find().all(&server.state.db).await.unwrap();
    assert!(
        users
            .iter()
            .all(|user| user.password_hash.starts_with("$argon2id$"))
    );
    server.stop().await;
}

async fn sign_up_validates_its_input(backend: Backend) {
    let server = TestServer::start(backend).await;
    let browser = server.browser();
    let signup = |email: &str, password: &str| {
        browser.post(
            "/api/v1/auth/signup",
            json!({"email": email, "password": password}),
        )
    };
    assert_error(
        signup("ada@example.com", "short").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        signup("ada@example.com", "password123").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        signup("not-an-email", PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(
        signup("ada@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let other = server.browser();
    let duplicate = other
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(duplicate, StatusCode::CONFLICT, "conflict").await;
    server.stop().await;
}

async fn log_in_and_log_out(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.browser().sign_up("ada@example.com").await;

    let browser = server.browser();
    assert_error(
        browser.get("/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let wrong = assert_error(
        browser.log_in("ada@example.com", "wrong password!").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let unknown = assert_error(
        browser.log_in("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        wrong, unknown,
        "unknown emails and wrong passwords are indistinguishable"
    );

    let response = browser.log_in("ADA@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(browser.get("/api/v1/me").await.status(), StatusCode::OK);

    assert_eq!(
        browser.post("/api/v1/auth/logout", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        browser.get("/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    server.stop().await;
}

async fn failed_logins_are_throttled(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.browser().sign_up("ada@example.com").await;
    let browser = server.browser();
    for _ in 0..5 {
        assert_eq!(
            browser
                .log_in("ada@example.com", "not the password")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let response = browser.log_in("ada@example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    server.stop().await;
}

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let laptop = server.browser();
    laptop.sign_up("ada@example.com").await;
    let phone = server.browser();
    assert_eq!(
        phone.log_in("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    let wrong_current = laptop
        .post(
            "/api/v1/auth/password",
            json!({"current_password": "nope nope nope", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_error(wrong_current, StatusCode::FORBIDDEN, "forbidden").await;
    let changed = laptop
        .post(
            "/api/v1/auth/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        laptop.get("/api/v1/me").await.status(),
        StatusCode::OK,
        "this session lives on"
    );
    assert_eq!(
        phone.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED,
        "the other one ended"
    );
    assert_eq!(
        server
            .browser()
            .log_in("ada@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .browser()
            .log_in("ada@example.com", "a brand new passphrase")
            .await
            .status(),
        StatusCode::OK
    );

    // Log out everywhere ends this session too.
    assert_eq!(
        laptop.post("/api/v1/auth/logout-all", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(laptop.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn closed_sign_up_still_lets_the_first_user_in_and_invitations_work(backend: Backend) {
    let server = TestServer::start_with(backend, &["--open-signup=false"]).await;
    let owner = server.browser();
    let org = first_org(&owner.sign_up("owner@example.com").await);
    let stranger = server.browser();
    let refused = stranger
        .post(
            "/api/v1/auth/signup",
            json!({"email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;

    let invitation: Value = owner
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            json!({"email": "new@example.com", "role": "member"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = invitation["token"].as_str().unwrap();
    let invited = server.browser();
    let response = invited
        .post(
            "/api/v1/auth/signup",
            json!({"email": "new@example.com", "password": PASSWORD, "invitation": token}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let me: Value = response.json().await.unwrap();
    assert_eq!(
        me["organizations"].as_array().unwrap().len(),
        1,
        "joined, no organization of their own"
    );
    assert_eq!(me["organizations"][0]["id"], org.as_str());
    assert_eq!(me["organizations"][0]["role"], "member");
    server.stop().await;
}

async fn mint(browser: &common::Browser, org: &str, scopes: &[&str]) -> Value {
    let response = browser
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "ci", "scopes": scopes}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn tokens_are_shown_once_stored_hashed_and_revocable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = server.browser();
    let org = first_org(&ada.sign_up("ada@example.com").await);
    let minted = mint(&ada, &org, &["ingest"]).await;
    let secret = minted["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("spk_") && secret.len() == 36, "{secret}");
    assert_eq!(minted["token"]["prefix"], &secret[..12]);
    assert_eq!(minted["token"]["created_by"], "ada@example.com");

    let listed: Value = ada
        .get(&format!("/api/v1/orgs/{org}/tokens"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["prefix"], &secret[..12]);
    assert!(
        listed.to_string().find(&secret[12..]).is_none(),
        "the list never holds the secret"
    );
    assert!(listed[0]["last_used_at"].is_null());

    use sea_orm::EntityTrait;
    let rows = entity::api_token::Entity::find()
        .all(&server.state.db)
        .await
        .unwrap();
    assert_eq!(
        rows[0].token_hash,
        app::platform::services::secrets::sha256_hex(&secret)
    );
    assert!(rows.iter().all(|row| !row.token_hash.contains(&secret[4..])));

    let introspect = |secret: String| {
        let client = server.client.clone();
        let url = server.url("/api/v1/token");
        async move { client.get(url).bearer_auth(secret).send().await.unwrap() }
    };
    let response = introspect(secret.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["organization_id"], org.as_str());
    assert_eq!(body["scopes"], json!(["ingest"]));
    // Recorded in the background, so the request does not wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let listed: Value = ada
            .get(&format!("/api/v1/orgs/{org}/tokens"))
            .await
            .json()
            .await
            .unwrap();
        if listed[0]["last_used_at"].is_string() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "use is recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let id = minted["token"]["id"].as_str().unwrap();
    assert_eq!(
        ada.delete(&format!("/api/v1/orgs/{org}/tokens/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = introspect(secret).await;
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let listed: Value = ada
        .get(&format!("/api/v1/orgs/{org}/tokens"))
        .await
        .json()
        .await
        .unwrap();
    assert!(listed[0]["revoked_at"].is_string());
    server.stop().await;
}

async fn token_scopes_and_bearer_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = server.browser();
    let org = first_org(&ada.sign_up("ada@example.com").await);
    let ingest = mint(&ada, &org, &["ingest"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = mint(&ada, &org, &["read"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = server.url(&format!("/api/v1/orgs/{org}/members"));

    let with = |secret: &str| server.client.get(&members).bearer_auth(secret);
    assert_error(
        with(&ingest).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let ok = with(&read).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let listed: Value = ok.json().await.unwrap();
    assert_eq!(listed[0]["email"], "ada@example.com");
    // Tokens cannot act as a user.
    let response = server
        .client
        .post(server.url("/api/v1/orgs"))
        .bearer_auth(&read)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;

    for (authorization, why) in [
        (None, "missing"),
        (Some("Bearer spk_short".to_owned()), "malformed"),
        (Some(format!("Bearer spk_{}", "A".repeat(32))), "unknown"),
        (Some(format!("Basic {ingest}")), "wrong scheme"),
    ] {
        let mut request = server.client.get(server.url("/api/v1/token"));
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer", "{why}");
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    server.stop().await;
}

async fn expired_tokens_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = server.browser();
    let org = first_org(&ada.sign_up("ada@example.com").await);
    let past = ada
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "old", "scopes": ["ingest"], "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(past, StatusCode::BAD_REQUEST, "bad_request").await;

    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let minted: Value = ada
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "brief", "scopes": ["ingest"], "expires_at": soon}),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = minted["secret"].as_str().unwrap();
    let call = || {
        server
            .client
            .get(server.url("/api/v1/token"))
            .bearer_auth(secret)
            .send()
    };
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_error(call().await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_token").await;
    server.stop().await;
}

async fn roles_limit_what_members_may_do(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = server.browser();
    let owner_me = owner.sign_up("owner@example.com").await;
    let owner_id = owner_me["user"]["id"].as_str().unwrap().to_owned();
    let org = first_org(&owner_me);
    let (admin, _) = add_member(&server, &owner, &org, "admin@example.com", "admin").await;
    let (member, member_id) = add_member(&server, &owner, &org, "member@example.com", "member").await;
    let (viewer, viewer_id) = add_member(&server, &owner, &org, "viewer@example.com", "viewer").await;
    let tokens = format!("/api/v1/orgs/{org}/tokens");
    let members = format!("/api/v1/orgs/{org}/members");

    // Everyone reads.
    for browser in [&admin, &member, &viewer] {
        let listed: Value = browser.get(&members).await.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 4);
    }
    // Viewers mint nothing; members mint ingest tokens only; admins anything.
    let forbidden = |response| assert_error(response, StatusCode::FORBIDDEN, "forbidden");
    forbidden(
        viewer
            .post(&tokens, json!({"name": "v", "scopes": ["ingest"]}))
            .await,
    )
    .await;
    let member_token = mint(&member, &org, &["ingest"]).await;
    forbidden(
        member
            .post(&tokens, json!({"name": "m", "scopes": ["read"]}))
            .await,
    )
    .await;
    let admin_token = mint(&admin, &org, &["ingest", "read"]).await;
    // Members revoke their own tokens, not others'.
    let admin_token_id = admin_token["token"]["id"].as_str().unwrap();
    forbidden(member.delete(&format!("{tokens}/{admin_token_id}")).await).await;
    let member_token_id = member_token["token"]["id"].as_str().unwrap();
    assert_eq!(
        member
            .delete(&format!("{tokens}/{member_token_id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    // Members and viewers do not manage members.
    forbidden(
        member
            .post(&members, json!({"email": "x@example.com", "role": "viewer"}))
            .await,
    )
    .await;
    forbidden(
        viewer
            .patch(&format!("{members}/{member_id}"), json!({"role": "admin"}))
            .await,
    )
    .await;
    forbidden(member.delete(&format!("{members}/{viewer_id}")).await).await;
    // Admins manage members below owner, not owners.
    let promoted = admin
        .patch(&format!("{members}/{viewer_id}"), json!({"role": "member"}))
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(promoted.json::<Value>().await.unwrap()["role"], "member");
    forbidden(
        admin
            .patch(&format!("{members}/{member_id}"), json!({"role": "owner"}))
            .await,
    )
    .await;
    forbidden(
        admin
            .patch(&format!("{members}/{owner_id}"), json!({"role": "viewer"}))
            .await,
    )
    .await;
    forbidden(
        admin
            .post(&members, json!({"email": "boss@example.com", "role": "owner"}))
            .await,
    )
    .await;
    forbidden(admin.delete(&format!("/api/v1/orgs/{org}")).await).await;
    assert_eq!(
        admin.delete(&format!("{members}/{viewer_id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    // The removed member lost access.
    assert_error(viewer.get(&members).await, StatusCode::NOT_FOUND, "not_found").await;

    // Owners delete the organization.
    assert_eq!(
        owner.delete(&format!("/api/v1/orgs/{org}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(owner.get(&members).await, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await;
}

async fn the_last_owner_cannot_leave(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = server.browser();
    let me = owner.sign_up("owner@example.com").await;
    let (owner_id, org) = (me["user"]["id"].as_str().unwrap().to_owned(), first_org(&me));
    let members = format!("/api/v1/orgs/{org}/members");
    assert_error(
        owner.delete(&format!("{members}/{owner_id}")).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        owner
            .patch(&format!("{members}/{owner_id}"), json!({"role": "admin"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    // Transfer ownership, then leave.
    let (successor, successor_id) = add_member(&server, &owner, &org, "next@example.com", "admin").await;
    assert_eq!(
        owner
            .patch(&format!("{members}/{successor_id}"), json!({"role": "owner"}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        owner.delete(&format!("{members}/{owner_id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let listed: Value = successor.get(&members).await.json().await.unwrap();
    assert_eq!(
        listed,
        json!([{"user_id": successor_id, "email": "next@example.com", "role": "owner", "joined_at": listed[0]["joined_at"]}])
    );
    server.stop().await;
}

async fn invitations_are_single_use_personal_and_expiring(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = server.browser();
    let org = first_org(&owner.sign_up("owner@example.com").await);
    let members_path = format!("/api/v1/orgs/{org}/members");
    let invite = |email: &'static str| owner.post(&members_path, json!({"email": email, "role": "viewer"}));
    let created: Value = invite("bob@example.com").await.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(
        created["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/invitations/{token}"))
    );
    let preview: Value = server
        .browser()
        .get(&format!("/api/v1/invitations/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["organization"], "owner's organization");
    let pending: Value = owner
        .get(&format!("/api/v1/orgs/{org}/invitations"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending[0]["email"], "bob@example.com");

    // Someone else with the link cannot use it.
    let eve = server.browser();
    eve.sign_up("eve@example.com").await;
    assert_error(
        eve.post(&format!("/api/v1/invitations/{token}/accept"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let bob = server.browser();
    bob.sign_up("bob@example.com").await;
    let joined = bob
        .post(&format!("/api/v1/invitations/{token}/accept"), json!({}))
        .await;
    assert_eq!(joined.status(), StatusCode::OK);
    assert_eq!(joined.json::<Value>().await.unwrap()["role"], "viewer");
    assert_error(
        bob.post(&format!("/api/v1/invitations/{token}/accept"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(invite("bob@example.com").await, StatusCode::CONFLICT, "conflict").await;

    // An expired invitation is refused.
    let created: Value = invite("carol@example.com").await.json().await.unwrap();
    let expired_token = created["token"].as_str().unwrap();
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let row = entity::invitation::Entity::find_by_id(
        created["invitation"]["id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap(),
    )
    .one(&server.state.db)
    .await
    .unwrap()
    .unwrap();
    let mut row: entity::invitation::ActiveModel = row.into();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::minutes(1));
    row.update(&server.state.db).await.unwrap();
    let carol = server.browser();
    let response = carol
        .post(
            "/api/v1/auth/signup",
            json!({"email": "carol@example.com", "password": PASSWORD, "invitation": expired_token}),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "conflict").await;

    // Revoked invitations disappear.
    let created: Value = invite("dan@example.com").await.json().await.unwrap();
    let id = created["invitation"]["id"].as_str().unwrap();
    assert_eq!(
        owner
            .delete(&format!("/api/v1/orgs/{org}/invitations/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let token = created["token"].as_str().unwrap();
    assert_error(
        server
            .browser()
            .get(&format!("/api/v1/invitations/{token}"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    server.stop().await;
}

async fn other_tenants_see_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.browser();
    let alice_me = alice.sign_up("alice@example.com").await;
    let (alice_id, org_a) = (
        alice_me["user"]["id"].as_str().unwrap().to_owned(),
        first_org(&alice_me),
    );
    let alice_token = mint(&alice, &org_a, &["ingest", "read"]).await;
    let alice_token_id = alice_token["token"]["id"].as_str().unwrap().to_owned();
    let invitation: Value = alice
        .post(
            &format!("/api/v1/orgs/{org_a}/members"),
            json!({"email": "x@example.com", "role": "viewer"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let invitation_id = invitation["invitation"]["id"].as_str().unwrap().to_owned();

    let mallory = server.browser();
    let mallory_me = mallory.sign_up("mallory@example.com").await;
    let org_m = first_org(&mallory_me);
    let mallory_token = mint(&mallory, &org_m, &["ingest", "read"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let a = format!("/api/v1/orgs/{org_a}");
    let attempts: Vec<(reqwest::Method, String, Value)> = vec![
        (reqwest::Method::GET, format!("{a}/members"), Value::Null),
        (
            reqwest::Method::POST,
            format!("{a}/members"),
            json!({"email": "m2@example.com", "role": "owner"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("{a}/members/{alice_id}"),
            json!({"role": "viewer"}),
        ),
        (
            reqwest::Method::DELETE,
            format!("{a}/members/{alice_id}"),
            Value::Null,
        ),
        (reqwest::Method::GET, format!("{a}/invitations"), Value::Null),
        (
            reqwest::Method::DELETE,
            format!("{a}/invitations/{invitation_id}"),
            Value::Null,
        ),
        (reqwest::Method::GET, format!("{a}/tokens"), Value::Null),
        (
            reqwest::Method::POST,
            format!("{a}/tokens"),
            json!({"name": "x", "scopes": ["read"]}),
        ),
        (
            reqwest::Method::DELETE,
            format!("{a}/tokens/{alice_token_id}"),
            Value::Null,
        ),
        (reqwest::Method::DELETE, a.clone(), Value::Null),
        // Alice's ids through Mallory's own organization.
        (
            reqwest::Method::DELETE,
            format!("/api/v1/orgs/{org_m}/tokens/{alice_token_id}"),
            Value::Null,
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/orgs/{org_m}/members/{alice_id}"),
            json!({"role": "viewer"}),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/orgs/{org_m}/members/{alice_id}"),
            Value::Null,
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/orgs/{org_m}/invitations/{invitation_id}"),
            Value::Null,
        ),
    ];
    for (method, path, body) in &attempts {
        let mut request = mallory.client.request(method.clone(), mallory.url(path));
        if !body.is_null() {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
            "{method} {path}: {status}"
        );
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("alice@example.com"),
            "{method} {path} leaked: {text}"
        );
    }
    // Mallory's read token on Alice's organization.
    for path in [
        format!("{a}/members"),
        format!("{a}/tokens"),
        format!("{a}/invitations"),
    ] {
        let response = server
            .client
            .get(server.url(&path))
            .bearer_auth(&mallory_token)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Nothing of Alice's changed.
    let members: Value = alice.get(&format!("{a}/members")).await.json().await.unwrap();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(members[0]["role"], "owner");
    let tokens: Value = alice.get(&format!("{a}/tokens")).await.json().await.unwrap();
    assert!(tokens[0]["revoked_at"].is_null());
    assert_eq!(
        alice
            .get(&format!("{a}/invitations"))
            .await
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

async fn cross_site_mutations_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = server.browser();
    ada.sign_up("ada@example.com").await;
    let create = || {
        ada.client
            .post(ada.url("/api/v1/orgs"))
            .json(&json!({"name": "Second"}))
    };
    let response = create()
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = create()
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = create()
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = create()
        .header(header::ORIGIN, ada.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let orgs: Value = ada.get("/api/v1/orgs").await.json().await.unwrap();
    assert_eq!(orgs.as_array().unwrap().len(), 3);
    server.stop().await;
}

async fn malformed_requests_get_clear_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let browser = server.browser();
    let response = browser
        .client
        .post(browser.url("/api/v1/auth/signup"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let response = browser
        .client
        .post(browser.url("/api/v1/auth/signup"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = browser
        .post("/api/v1/auth/signup", json!({"email": "a@example.com"}))
        .await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("password"),
        "{body}"
    );
    assert_error(
        browser.get("/api/v1/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    browser.sign_up("ada@example.com").await;
    assert_error(
        browser.get("/api/v1/orgs/not-a-uuid/members").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    server.stop().await;
}

async fn idle_sessions_expire(backend: Backend) {
    let server = TestServer::start_with(backend, &["--session-ttl=1s"]).await;
    let ada = server.browser();
    ada.sign_up("ada@example.com").await;
    assert_eq!(ada.get("/api/v1/me").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        ada.get("/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // The expired row is removed by the cleanup, not just ignored.
    assert_eq!(
        app::accounts::services::sessions::delete_expired(&server.state.db)
            .await
            .unwrap(),
        1
    );
    server.stop().await;
}

async fn active_sessions_stay_signed_in(backend: Backend) {
    let server = TestServer::start_with(backend, &["--session-ttl=2s"]).await;
    let ada = server.browser();
    ada.sign_up("ada@example.com").await;
    // Activity every 0.7 s for 3.5 s: longer than the TTL, never idle that long.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            ada.get("/api/v1/me").await.status(),
            StatusCode::OK,
            "activity keeps the session"
        );
    }
    server.stop().await;
}

async fn cookies_are_secure_behind_https(backend: Backend) {
    let server = TestServer::start_with(backend, &["--public-url=https://specula.example.com"]).await;
    let response = server
        .client
        .post(server.url("/api/v1/auth/signup"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    server.stop().await;
}
