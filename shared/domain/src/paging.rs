//! When to stop following `Link: <…>; rel="next"` pages (registry tag lists): a page
//! already read means the pages loop, a page that adds nothing new means they repeat,
//! and past the page cap the list is too long. Each is an error, never a quiet end.

use std::collections::HashSet;

use crate::limits::Limit;

/// The pages followed so far.
#[derive(Debug, Clone)]
pub struct LinkPaging {
    seen: HashSet<String>,
    max_pages: Limit<usize>,
}

/// Why paging stopped short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error("its Link header leads back to a page already read ({0})")]
    Loop(String),
    #[error("its page {0} repeats earlier pages and still links to another")]
    Repeats(usize),
    #[error("it has more pages than {0}")]
    TooManyPages(Limit<usize>),
}

impl LinkPaging {
    /// Starts at `first`, the absolute URL of the first page.
    pub fn new(first: &str, max_pages: Limit<usize>) -> Self {
        Self { seen: HashSet::from([first.to_owned()]), max_pages }
    }

    /// Decides whether to read `next` (absolute) after a page that brought `new_items`
    /// items not seen on earlier pages.
    pub fn follow(&mut self, next: &str, new_items: usize) -> Result<(), PagingError> {
        if new_items == 0 {
            return Err(PagingError::Repeats(self.seen.len()));
        }
        if !self.seen.insert(next.to_owned()) {
            return Err(PagingError::Loop(next.to_owned()));
        }
        if self.seen.len() > self.max_pages.value {
            return Err(PagingError::TooManyPages(self.max_pages));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: &str = "LADING_REGISTRY_MAX_TAG_PAGES";

    fn paging(max: usize) -> LinkPaging {
        LinkPaging::new("https://r/v2/app/tags/list?n=2", Limit::new(max, CAP))
    }

    #[test]
    fn given_distinct_pages_with_new_items_then_they_are_followed_up_to_the_cap() {
        let mut pages = paging(3);
        assert_eq!(pages.follow("https://r/v2/app/tags/list?n=2&last=b", 2), Ok(()));
        assert_eq!(pages.follow("https://r/v2/app/tags/list?n=2&last=d", 2), Ok(()));
        assert_eq!(
            pages.follow("https://r/v2/app/tags/list?n=2&last=f", 2),
            Err(PagingError::TooManyPages(Limit::new(3, CAP)))
        );
    }

    #[test]
    fn given_a_link_back_to_a_page_already_read_then_paging_stops_with_a_loop() {
        let mut pages = paging(1000);
        let error = pages.follow("https://r/v2/app/tags/list?n=2", 2).unwrap_err();
        assert_eq!(error, PagingError::Loop("https://r/v2/app/tags/list?n=2".into()));
        assert_eq!(
            error.to_string(),
            "its Link header leads back to a page already read (https://r/v2/app/tags/list?n=2)"
        );
    }

    #[test]
    fn given_a_page_that_adds_nothing_new_then_paging_stops() {
        let mut pages = paging(1000);
        assert_eq!(pages.follow("https://r/v2/app/tags/list?n=2&last=b", 2), Ok(()));
        assert_eq!(pages.follow("https://r/v2/app/tags/list?n=2&x=1", 0), Err(PagingError::Repeats(2)));
    }

    #[test]
    fn the_cap_reads_with_its_setting() {
        let error = PagingError::TooManyPages(Limit::new(1000, CAP));
        assert_eq!(error.to_string(), "it has more pages than 1000 (LADING_REGISTRY_MAX_TAG_PAGES)");
    }
}
