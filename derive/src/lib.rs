//! `#[derive(Module)]` for torchlet: writes the bookkeeping half of
//! `torchlet_nn::Module` from a struct's fields, so that a custom model
//! is a struct plus its `forward`, as in PyTorch.
//!
//! Use it through `torchlet_nn::Module` or `torchlet::nn::Module` (the
//! derive and the trait share the name); the documentation with examples
//! is there. What each field becomes:
//!
//! | field | becomes |
//! |---|---|
//! | any type (no attribute) | a sub-module named after the field (`fc1.weight`); it must implement `Module` |
//! | `Option<M>` | a sub-module when `Some` |
//! | `Vec<M>` | a list of sub-modules `field.0`, `field.1`, ... (like `ModuleList`) |
//! | `#[param]` `Variable` or `Option<Variable>` | a parameter of this module |
//! | `#[buffer]` `Variable` or `Option<Variable>` | a buffer of this module |
//! | `#[module(training)]` `AtomicBool` or `Cell<bool>` | this module's own training flag |
//! | `#[module(skip)]` | nothing (sizes, options, caches) |
//!
//! The struct's inherent `fn forward(&self, x: &Variable) ->
//! Result<Variable>` is the module's forward. Field order is registration
//! order: own parameters and buffers first, then the sub-modules in field
//! order, as PyTorch lists them.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Data, DeriveInput, Field, Fields, GenericArgument, PathArguments, Type,
};

/// Derives `torchlet_nn::Module` from the struct's fields; the struct's
/// inherent `forward` is the module's forward. See the crate docs for
/// the field attributes (`#[param]`, `#[buffer]`, `#[module(skip)]`,
/// `#[module(training)]`, and `#[module(crate = path)]` on the struct).
#[proc_macro_derive(Module, attributes(module, param, buffer))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What a field is to the module.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Child,
    Param,
    Buffer,
    Training,
    Skip,
}

/// A field with its role, its name in dotted paths, and how to reach it.
struct Member<'a> {
    field: &'a Field,
    role: Role,
    name: String,
    access: TokenStream2,
    /// `Some(inner)` when the field is an `Option<inner>`.
    optional: Option<&'a Type>,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let nn = nn_path(input)?;
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span(),
                "#[derive(Module)] needs a struct (a module's fields are its parts)",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "#[derive(Module)] needs a struct (a module's fields are its parts)",
            ))
        }
    };
    let members: Vec<Member> = match fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let ident = f.ident.as_ref().expect("a named field");
                let name = ident.to_string().trim_start_matches("r#").to_string();
                member(f, name, quote!(#ident))
            })
            .collect::<syn::Result<_>>()?,
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = syn::Index::from(i);
                member(f, i.to_string(), quote!(#index))
            })
            .collect::<syn::Result<_>>()?,
        Fields::Unit => Vec::new(),
    };
    let training: Vec<&Member> = members
        .iter()
        .filter(|m| m.role == Role::Training)
        .collect();
    if let Some(second) = training.get(1) {
        return Err(syn::Error::new(
            second.field.span(),
            "a module has one training flag; this is the second #[module(training)] field",
        ));
    }

    let derive = quote!(#nn::__derive);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut bounds: Vec<TokenStream2> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    let type_params: Vec<&syn::Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    let mut children = Vec::new();
    let mut params = Vec::new();
    let mut buffers = Vec::new();
    for m in &members {
        let (name, access) = (&m.name, &m.access);
        let ty = m.optional.unwrap_or(&m.field.ty);
        let span = m.field.ty.span();
        // A field whose type uses a type parameter needs the bound; a
        // concrete type is checked where it is used (at the field, so
        // that an error names it).
        if m.role == Role::Child && mentions_any(ty, &type_params) {
            bounds.push(quote_spanned!(span=> #ty: #nn::Module));
        }
        match (m.role, m.optional) {
            (Role::Child, None) => {
                children.push(
                    quote_spanned!(span=> out.push((#name, &self.#access as &dyn #nn::Module));),
                );
            }
            (Role::Child, Some(_)) => {
                children.push(quote_spanned!(span=>
                    if let ::core::option::Option::Some(m) = &self.#access {
                        out.push((#name, m as &dyn #nn::Module));
                    }
                ));
            }
            (Role::Param | Role::Buffer, optional) => {
                let push = if optional.is_some() {
                    quote_spanned!(span=>
                        if let ::core::option::Option::Some(v) = &self.#access {
                            out.push((#name, #derive::variable(v)));
                        }
                    )
                } else {
                    quote_spanned!(span=> out.push((#name, #derive::variable(&self.#access)));)
                };
                if m.role == Role::Param {
                    params.push(push);
                } else {
                    buffers.push(push);
                }
            }
            (Role::Training | Role::Skip, _) => {}
        }
    }
    let where_tokens = if bounds.is_empty() {
        quote!()
    } else {
        quote!(where #(#bounds),*)
    };
    let children_fn = (!children.is_empty()).then(|| {
        quote! {
            fn children(&self) -> ::std::vec::Vec<(&str, &dyn #nn::Module)> {
                let mut out: ::std::vec::Vec<(&str, &dyn #nn::Module)> = ::std::vec::Vec::new();
                #(#children)*
                out
            }
        }
    });
    let params_fn = (!params.is_empty()).then(|| {
        quote! {
            fn local_parameters(&self) -> ::std::vec::Vec<(&str, #derive::Variable)> {
                let mut out = ::std::vec::Vec::new();
                #(#params)*
                out
            }
        }
    });
    let buffers_fn = (!buffers.is_empty()).then(|| {
        quote! {
            fn local_buffers(&self) -> ::std::vec::Vec<(&str, #derive::Variable)> {
                let mut out = ::std::vec::Vec::new();
                #(#buffers)*
                out
            }
        }
    });
    let training_fns = training.first().map(|m| {
        let access = &m.access;
        let span = m.field.ty.span();
        quote_spanned! {span=>
            fn set_local_training(&self, training: bool) {
                #derive::TrainingFlag::set_flag(&self.#access, training)
            }
            fn is_training(&self) -> bool {
                #derive::TrainingFlag::flag(&self.#access)
            }
        }
    });
    Ok(quote! {
        impl #impl_generics #nn::Module for #ident #ty_generics #where_tokens {
            /// The struct's own (inherent) `forward`.
            fn forward(&self, x: &#derive::Variable) -> #nn::Result<#derive::Variable> {
                // Without an inherent `forward`, `Self::forward` would be
                // this very method (a stack overflow at run time). With
                // this trait in scope it is a compile error instead: an
                // inherent method wins over every trait method, and
                // without one the call is ambiguous between `Module`'s
                // and this trait's ("multiple applicable items: candidate
                // ... DeriveModuleNeedsAnInherentForward").
                #[allow(dead_code)]
                trait DeriveModuleNeedsAnInherentForward {
                    fn forward(&self, x: &#derive::Variable) -> #nn::Result<#derive::Variable>;
                }
                impl<T: ?Sized> DeriveModuleNeedsAnInherentForward for T {
                    fn forward(&self, _x: &#derive::Variable) -> #nn::Result<#derive::Variable> {
                        unreachable!("an inherent or Module method is chosen, or the call is ambiguous")
                    }
                }
                Self::forward(self, x)
            }
            #children_fn
            #params_fn
            #buffers_fn
            #training_fns
        }
    })
}

/// Reads a field's attributes into its role.
fn member<'a>(field: &'a Field, name: String, access: TokenStream2) -> syn::Result<Member<'a>> {
    let mut role: Option<(Role, proc_macro2::Span)> = None;
    let mut set = |r: Role, span: proc_macro2::Span| -> syn::Result<()> {
        if let Some((_, first)) = role {
            let mut e = syn::Error::new(span, "a field has one role: a sub-module (no attribute), #[param], #[buffer], #[module(training)] or #[module(skip)]");
            e.combine(syn::Error::new(first, "its first role is given here"));
            return Err(e);
        }
        role = Some((r, span));
        Ok(())
    };
    for attr in &field.attrs {
        if attr.path().is_ident("param") {
            attr.meta.require_path_only()?;
            set(Role::Param, attr.span())?;
        } else if attr.path().is_ident("buffer") {
            attr.meta.require_path_only()?;
            set(Role::Buffer, attr.span())?;
        } else if attr.path().is_ident("module") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    set(Role::Skip, meta.path.span())
                } else if meta.path.is_ident("training") {
                    set(Role::Training, meta.path.span())
                } else {
                    Err(meta.error(
                        "unknown #[module(...)] field option: expected `skip` or `training`",
                    ))
                }
            })?;
        }
    }
    let role = role.map_or(Role::Child, |(r, _)| r);
    let optional = match role {
        Role::Child | Role::Param | Role::Buffer => option_inner(&field.ty),
        _ => None,
    };
    Ok(Member {
        field,
        role,
        name,
        access,
        optional,
    })
}

/// Whether `ty` names one of `params` anywhere in it.
fn mentions_any(ty: &Type, params: &[&syn::Ident]) -> bool {
    fn walk(tokens: TokenStream2, params: &[&syn::Ident]) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => params.iter().any(|p| **p == i),
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(quote!(#ty), params)
}

/// `T` when `ty` is written `Option<T>` (or a path ending in `Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// How the deriving crate reaches torchlet-nn: `#[module(crate = path)]`
/// on the struct, else its own dependency on torchlet-nn, else the
/// torchlet facade's `nn`.
fn nn_path(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let mut explicit = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: syn::Path = meta.value()?.parse()?;
                explicit = Some(quote!(#path));
                Ok(())
            } else {
                Err(meta.error("unknown #[module(...)] struct option: expected `crate = path`"))
            }
        })?;
    }
    if let Some(path) = explicit {
        return Ok(path);
    }
    use proc_macro_crate::{crate_name, FoundCrate};
    let named = |n: &str| {
        let id = format_ident!("{}", n);
        quote!(::#id)
    };
    Ok(match crate_name("torchlet-nn") {
        // Inside torchlet-nn (its tests and examples see it by name too).
        Ok(FoundCrate::Itself) => quote!(::torchlet_nn),
        Ok(FoundCrate::Name(n)) => named(&n),
        Err(_) => match crate_name("torchlet") {
            Ok(FoundCrate::Name(n)) => {
                let facade = named(&n);
                quote!(#facade::nn)
            }
            _ => quote!(::torchlet::nn),
        },
    })
}
