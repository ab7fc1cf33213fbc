//! One process, many targets: `malha up` and `serve --target all` host every
//! service in one process, yet a trace backend should show orders' spans
//! under `orders` and payments' under `payments`, as it does in a cluster
//! (one pod per target, `OTEL_SERVICE_NAME` = the target).
//!
//! The kit marks the spans it opens for a target (server, consumer, relay)
//! with [`TARGET_KEY`]; [`InheritTarget`] gives every other span started
//! under one of them (handler spans, outgoing calls) its local parent's
//! target; [`PerTargetExporter`] exports each target's spans with
//! `service.name` = the target. Spans of no target keep the process's name.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// The span attribute naming the target a span belongs to.
pub const TARGET_KEY: &str = "malha.target";

thread_local! {
    static CURRENT: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs `start` as `target`: what it starts (a service's background work)
/// reads the name with [`current_target`] before spawning its tasks.
pub fn with_target<R>(target: &'static str, start: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(Some(target)));
    let result = start();
    CURRENT.with(|c| c.set(previous));
    result
}

/// The target set by an enclosing [`with_target`] on this thread.
pub fn current_target() -> Option<&'static str> {
    CURRENT.with(Cell::get)
}

/// Gives a span without a target its local parent's, then hands it on.
#[derive(Debug)]
pub(super) struct InheritTarget<P> {
    next: P,
    /// The targets of open spans (a child starts while its parent is open).
    open: parking_lot::Mutex<HashMap<SpanId, Value>>,
}

impl<P> InheritTarget<P> {
    pub(super) fn new(next: P) -> Self {
        Self {
            next,
            open: parking_lot::Mutex::new(HashMap::new()),
        }
    }
}

fn target_of(attributes: &[KeyValue]) -> Option<&Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == TARGET_KEY)
        .map(|kv| &kv.value)
        .filter(|value| !value.as_str().is_empty())
}

impl<P: SpanProcessor> SpanProcessor for InheritTarget<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        let own = span
            .exported_data()
            .and_then(|data| target_of(&data.attributes).cloned());
        let target = own.or_else(|| {
            let parent = cx.span();
            let parent = parent.span_context();
            if !parent.is_valid() || parent.is_remote() {
                return None;
            }
            let inherited = self.open.lock().get(&parent.span_id()).cloned()?;
            span.set_attribute(KeyValue::new(TARGET_KEY, inherited.clone()));
            Some(inherited)
        });
        if let Some(target) = target {
            self.open
                .lock()
                .insert(span.span_context().span_id(), target);
        }
        self.next.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.open.lock().remove(&span.span_context.span_id());
        self.next.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.next.set_resource(resource);
    }
}

/// Exports each target's spans with that target as `service.name` (the
/// marking attribute removed); the others with the process's resource.
#[derive(Debug)]
pub(super) struct PerTargetExporter<E> {
    /// Never used concurrently (one export at a time); the lock lets
    /// `export(&self)` switch the inner exporter's resource per group.
    inner: futures::lock::Mutex<E>,
    base: Resource,
}

impl<E> PerTargetExporter<E> {
    pub(super) fn new(inner: E) -> Self {
        Self {
            inner: futures::lock::Mutex::new(inner),
            base: Resource::builder_empty().build(),
        }
    }

    fn resource(&self, target: Option<&str>) -> Resource {
        match target {
            None => self.base.clone(),
            Some(target) => Resource::builder_empty()
                .with_attributes(
                    self.base
                        .iter()
                        .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
                )
                .with_service_name(target.to_owned())
                .build(),
        }
    }
}

/// `batch` grouped by target (first-seen order), the marking attribute removed.
fn by_target(batch: Vec<SpanData>) -> Vec<(Option<String>, Vec<SpanData>)> {
    let mut groups: Vec<(Option<String>, Vec<SpanData>)> = Vec::new();
    for mut span in batch {
        let target = target_of(&span.attributes).map(|v| v.as_str().into_owned());
        span.attributes.retain(|kv| kv.key.as_str() != TARGET_KEY);
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((target, vec![span])),
        }
    }
    groups
}

impl<E: SpanExporter> SpanExporter for PerTargetExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut inner = self.inner.lock().await;
        let mut result = Ok(());
        for (target, spans) in by_target(batch) {
            inner.set_resource(&self.resource(target.as_deref()));
            if let Err(error) = inner.export(spans).await {
                result = Err(error);
            }
        }
        inner.set_resource(&self.base);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self.inner.try_lock() {
            Some(inner) => inner.shutdown_with_timeout(timeout),
            None => Ok(()),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.inner.try_lock() {
            Some(inner) => inner.force_flush(),
            None => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.base = resource.clone();
        self.inner.get_mut().set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        SpanContext, TraceContextExt as _, Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
    };

    use super::{InheritTarget, PerTargetExporter, TARGET_KEY, current_target, with_target};

    /// (service.name, span name, attributes) of one exported span.
    type Exported = (String, String, Vec<KeyValue>);

    /// Records every exported span.
    #[derive(Debug, Clone, Default)]
    struct Recorder {
        resource: Arc<Mutex<Option<Resource>>>,
        seen: Arc<Mutex<Vec<Exported>>>,
    }

    impl SpanExporter for Recorder {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let service = self
                .resource
                .lock()
                .unwrap()
                .as_ref()
                .and_then(|r| r.get(&"service.name".into()))
                .map(|v| v.as_str().into_owned())
                .unwrap_or_default();
            for span in batch {
                self.seen.lock().unwrap().push((
                    service.clone(),
                    span.name.to_string(),
                    span.attributes,
                ));
            }
            Ok(())
        }

        fn set_resource(&mut self, resource: &Resource) {
            *self.resource.lock().unwrap() = Some(resource.clone());
        }
    }

    #[test]
    fn spans_take_their_own_or_their_local_parents_target_as_service_name() {
        let recorder = Recorder::default();
        let exporter = PerTargetExporter::new(recorder.clone());
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(BatchConfigBuilder::default().build())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("malha").build())
            .with_span_processor(InheritTarget::new(batch))
            .build();
        let tracer = provider.tracer("test");

        let server = tracer
            .span_builder("server")
            .with_attributes([KeyValue::new(TARGET_KEY, "orders")])
            .start(&tracer);
        let server_cx = Context::new().with_span(server);
        let client = tracer.start_with_context("client", &server_cx);
        let grandchild = tracer.start_with_context("handler", &Context::new().with_span(client));
        drop(grandchild);
        // A remote parent (another process) passes no target on.
        let local = server_cx.span().span_context().clone();
        let remote = Context::new().with_remote_span_context(SpanContext::new(
            local.trace_id(),
            local.span_id(),
            local.trace_flags(),
            true,
            local.trace_state().clone(),
        ));
        drop(tracer.start_with_context("callee", &remote));
        drop(tracer.start("startup"));
        drop(server_cx);
        provider.force_flush().unwrap();

        let seen = recorder.seen.lock().unwrap().clone();
        let service_of = |name: &str| {
            seen.iter()
                .find(|(_, span, _)| span == name)
                .map(|(service, _, attributes)| {
                    assert!(
                        attributes.iter().all(|kv| kv.key.as_str() != TARGET_KEY),
                        "{name}: the marking attribute is not exported"
                    );
                    service.clone()
                })
                .unwrap_or_else(|| panic!("{name} not exported: {seen:?}"))
        };
        assert_eq!(service_of("server"), "orders");
        assert_eq!(service_of("client"), "orders");
        assert_eq!(service_of("handler"), "orders");
        assert_eq!(service_of("callee"), "malha");
        assert_eq!(service_of("startup"), "malha");
    }

    #[test]
    fn the_target_is_set_only_inside_with_target() {
        assert_eq!(current_target(), None);
        let inside = with_target("inventory", || {
            with_target("projects", current_target);
            current_target()
        });
        assert_eq!(inside, Some("inventory"));
        assert_eq!(current_target(), None);
    }
}
