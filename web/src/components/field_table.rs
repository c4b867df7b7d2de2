use yew::prelude::*;

use crate::state::FieldRow;
use crate::value::format_field_value;

#[derive(Properties, PartialEq)]
pub struct FieldTableProps {
    /// The instance name, for the caption.
    pub register: String,
    pub rows: Vec<FieldRow>,
}

/// The fields of the selected register, with their decoded values.
#[function_component]
pub fn FieldTable(props: &FieldTableProps) -> Html {
    html! {
        <table class="fields">
            <caption>{ format!("Fields of {}", props.register) }</caption>
            <thead>
                <tr>
                    <th scope="col">{ "Bits" }</th>
                    <th scope="col">{ "Field" }</th>
                    <th scope="col">{ "Access" }</th>
                    <th scope="col">{ "Value" }</th>
                    <th scope="col">{ "Meaning" }</th>
                </tr>
            </thead>
            <tbody>
                { for props.rows.iter().map(|row| html! {
                    <tr>
                        <td class="bits">{ &row.bits }</td>
                        <th scope="row" class="field">{ &row.name }</th>
                        <td class="access">{ row.access }</td>
                        <td class="value">{ row.value.map(format_field_value).unwrap_or_else(|| "—".to_string()) }</td>
                        <td class="meaning">{ &row.meaning }</td>
                    </tr>
                }) }
            </tbody>
        </table>
    }
}
