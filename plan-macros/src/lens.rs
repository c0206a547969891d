//! `#[derive(Lens)]`: a zero-sized lens per named field, reachable as `Type::field`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Data, DeriveInput, Fields};

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            Fields::Unnamed(_) => {
                return Err(syn::Error::new_spanned(
                    &input.ident,
                    "#[derive(Lens)] needs named fields; for tuple fields build a lens with `lens(get, get_mut)`",
                ));
            }
            Fields::Unit => {
                return Err(syn::Error::new_spanned(
                    &input.ident,
                    "#[derive(Lens)] on a unit struct: it has no fields to focus on",
                ));
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(Lens)] works on structs with named fields; for enums build a lens with `lens(get, get_mut)`",
            ));
        }
    };
    let ty = &input.ident;
    let type_vis = &input.vis;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let params = &input.generics.params;
    let lenses = fields.iter().filter_map(|field| {
        let ident = field.ident.as_ref()?;
        // Spanned on the field: a diagnostic about the lens then points at the field.
        let lens = format_ident!(
            "{}_{}",
            ty,
            ident.to_string().trim_start_matches("r#"),
            span = ident.span()
        );
        let vis = &field.vis;
        let field_ty = &field.ty;
        let doc = format!("Lens on `{ty}::{ident}`, made by `#[derive(Lens)]`.");
        let declaration = quote_spanned! {ident.span()=>
            #[doc = #doc]
            // A lens of a private struct is private too (its `Lens` impls name the struct); an
            // unused one is no mistake of the user's.
            #[allow(non_camel_case_types, dead_code)]
            #type_vis struct #lens<#params>(::core::marker::PhantomData<fn() -> #ty #ty_generics>) #where_clause;
        };
        Some(quote! {
            #declaration

            impl #impl_generics ::core::clone::Clone for #lens #ty_generics #where_clause {
                fn clone(&self) -> Self { *self }
            }
            impl #impl_generics ::core::marker::Copy for #lens #ty_generics #where_clause {}
            impl #impl_generics ::core::fmt::Debug for #lens #ty_generics #where_clause {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(::core::concat!(::core::stringify!(#ty), "::", ::core::stringify!(#ident)))
                }
            }

            impl #impl_generics ::plan_runtime::__private::Lens<#ty #ty_generics> for #lens #ty_generics #where_clause {
                type Target = #field_ty;
                fn get<'s>(&self, whole: &'s #ty #ty_generics) -> &'s #field_ty {
                    &whole.#ident
                }
                fn get_mut<'s>(&self, whole: &'s mut #ty #ty_generics) -> &'s mut #field_ty {
                    &mut whole.#ident
                }
            }

            impl #impl_generics ::plan_runtime::__private::LensOf for #lens #ty_generics #where_clause {
                type Source = #ty #ty_generics;
                type Target = #field_ty;
            }

            #[allow(non_upper_case_globals)]
            impl #impl_generics #ty #ty_generics #where_clause {
                #[doc = #doc]
                #vis const #ident: #lens #ty_generics = #lens(::core::marker::PhantomData);
            }
        })
    });
    Ok(quote! {
        const _: () = {
            #(#lenses)*
        };
    })
}
