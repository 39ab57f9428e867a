//! The inputs of ammonia 4.2's own test suite (every fragment its `src/lib.rs` tests clean;
//! MIT/Apache-2.0), XSS and mutation-XSS vectors among them: the sanitizer must treat each as
//! ammonia does with feedsmith's policy ([`super::identity`]).

pub const AMMONIA_VECTORS: &[&str] = &[
    "<html><head>head content</head><body><div>test</div></body></html>",
    "1 < 2",
    "an <script>evil()</script> example",
    "a <a href=\"http://www.google.com\">good</a> example",
    "an <a onclick=\"evil()\" href=\"http://www.google.com\">evil</a> example",
    "an <a href=\"javascript:evil()\">evil</a> example",
    "<b>AWESOME!",
    "<a href=test>Test</a>",
    "Test<img alt=test src=imgtest>",
    "<a href=test rel=\"garbage\">Test</a>",
    "<table border=\"1\"><tr></tr></table>",
    "<b title='\"'>contents</b>",
    "<br>",
    "<p class=\"foo bar\"><a class=\"baz bleh\">Hey</a></p>",
    "<p class=\"a\tb\nc\x0Cd\re f\x0B g\u{2000}\">",
    "<p data-label=\"baz\" name=\"foo\"></p>",
    "<p data-label=\"bar\" name=\"foo\"></p>",
    "<input type=\"CHECKBOX\" name=\"foo\">",
    "<a href=\"https://example.com/\">Link</a>",
    "<a target=\"bad\" href=\"https://example.com/\">Link</a>",
    "<span>hi</span><my-elem>",
    "<bad><evil>a</evil>b</bad>",
    r#"a <a>link</a>"#,
    r#"a <a>link"#,
    "<a id=\"hello\"></a><b id=\"hello\"></a>",
    "<a id=\"prefix-hello\"></a>",
    "<script type=\"text/javascript\"><a>Hello!</a></script>",
    "<em>This is</em><script><a>Hello!</a></script><p>still here!</p>",
    "<svg><iframe>remove me</iframe></svg><iframe>keep me</iframe>",
    "<svg><a>remove me</a></svg><iframe>keep me</iframe>",
    "<svg><a>keep me</a></svg><iframe>keep me</iframe>",
    "<svg><foreignObject><table><path><xmp><!--</xmp><img title'--&gt;&lt;img src=1 onerror=alert(1)&gt;'>",
    "<svg><foreignObject><math><iframe><!--</iframe><img src onerror=alert(1)>-->",
    "<mglyph></mglyph>",
    "<math><mtext><div><mglyph>",
    "<math><mtext><mglyph>",
    "<math><mtext><table><mglyph><xmp><!--</xmp><img title='--&gt;&lt;img src=1 onerror=alert(1)&gt;'>",
    "<math><annotation-xml encoding='text/html'><xmp><!--</xmp><img title='--&gt;&lt;img src=1 onerror=alert(1)&gt;'>",
    "<math><annotation-xml encoding='image/svg+xml'><xmp><!--</xmp><img title='--&gt;&lt;img src=1 onerror=alert(1)&gt;'>",
    "<math><annotation-xml encoding='image/svg+xml'><svg>",
    "<math><mi><svg><iframe><!--</iframe><img src onerror=alert(1)>-->",
    r#"
<p style="background-image:url(https://example.com)">ok</p>
<p style="background-image:url(javascript:alert)">technically still okay, but filtered nonetheless</p>
<p style='background-image:url("https://example.com")'>ok</p>
<p style='background-image:url("javascript:alert")'>technically still okay, but filtered nonetheless</p>
        "#,
    r#"
<p style='background-image:url("cid:\"")'>fix quotes as required by cid weirdness</p>
<p style='background-image:url("http://example.com/\"")'>percent encoding is used in http</p>
        "#,
    r#"
<p style="background-image:url(example.com)">ok</p>
<p style='background-image:url("example.com")'>ok</p>
        "#,
    r#"
<p style="background-image:url(example.com)">not ok</p>
<p style='background-image:url("example.com")'>not ok</p>
        "#,
    r#"
<p style="background-image:Url(example.com)">not ok</p>
<p style='background-image:uRl("example.com")'>not ok</p>
<p style='background-image:urL("example.com")'>not ok</p>
<p style="background-image:Url(https://example.com/)">ok</p>
        "#,
    r#"
<select><style></select><img src onerror=xss()></style></select>
        "#,
    r#"
<selectedcontent>first</selectedcontent>
<div><selectedcontent>second</selectedcontent></div>
<select><selectedcontent>third</selectedcontent></select>
        "#,
    r#"<a data-1 data-2 code-1 code-2><a>Hello!</a></a>"#,
    "1<2",
    "foo<2>bar",
    "Vec::<u8>::new()",
    "did you really believe me? <g>",
    "<b>",
    "something",
    "<span rel=\"what\">s</span>",
    "<a rel=\"what\">s</a>",
    "<a href=banned>banned</a><a href=/test/path>fixed</a><a href=path>passed</a><a href=http://google.com/>skipped</a>",
    "<a href=banned>banned</a><a href=banned title=test>banned</a><a title=test href=banned>banned</a>",
    "<a href=\"https://www.google.com/\">google</a>",
    "",
];
