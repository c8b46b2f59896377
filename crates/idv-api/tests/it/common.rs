//! Helpers shared by the topic modules: the test AccessKey of the captured vectors and an owned request.

use idv_api::sign::RawRequest;

pub const AK_ID: &str = "TESTAKID0000000000000000";
pub const AK_SECRET: &str = "TestAccessKeySecret000000000000";

/// One request, owned, so a test can mutate it before handing a [`RawRequest`] to `parse`.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn raw(&self) -> RawRequest<'_> {
        RawRequest {
            method: &self.method,
            path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    pub fn header_mut(&mut self, name: &str) -> &mut String {
        let (_, value) = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no header {name}"));
        value
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}
