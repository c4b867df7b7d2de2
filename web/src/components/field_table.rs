use yew::prelude::*;

use crate::state::FieldRow;
use crate::value::format_field_value;

/// The fields of the selected register instance (`register`, for the
/// caption), with their decoded and reset values.
pub fn field_table(register: &str, rows: &[FieldRow]) -> Html {
    html! {
        <table class="fields">
            <caption>{ format!("Fields of {register}") }</caption>
            <thead>
                <tr>
                    <th scope="col">{ "Bits" }</th>
                    <th scope="col">{ "Field" }</th>
                    <th scope="col">{ "Access" }</th>
                    <th scope="col">{ "Value" }</th>
                    <th scope="col">{ "Reset" }</th>
                    <th scope="col">{ "Meaning" }</th>
                </tr>
            </thead>
            <tbody>
                { for rows.iter().map(|row| html! {
                    <tr key={row.bits.clone()}>
                        <td class="bits">{ &row.bits }</td>
                        <th scope="row" class="field">{ super::glossed(&row.name) }</th>
                        <td class="access">{ row.access }</td>
                        <td class="value">{ row.value.map(format_field_value).unwrap_or_else(|| "—".to_string()) }</td>
                        <td class="reset">{ row.reset.map(format_field_value).unwrap_or_else(|| "computed".to_string()) }</td>
                        <td class="meaning">{ super::glossed(&row.meaning) }</td>
                    </tr>
                }) }
            </tbody>
        </table>
    }
}
