//! Pages of lists: `data` and the cursor of the next page.

use serde::{Deserialize, Serialize};

use crate::{AppOut, AttemptOut, DeliveryOut, EndpointOut, EventOut, EventTypeOut, KeyOut};

macro_rules! list_type {
    ($name:ident, $item:ty) => {
        /// A page of a cursor-paginated list.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

list_type!(KeyList, KeyOut);
list_type!(AppList, AppOut);
list_type!(EventTypeList, EventTypeOut);
list_type!(EndpointList, EndpointOut);
list_type!(EventList, EventOut);
list_type!(DeliveryList, DeliveryOut);
list_type!(AttemptList, AttemptOut);
