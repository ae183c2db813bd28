<?xml version="1.0" encoding="UTF-8"?>
<!--
  Benchmark comparator only: the example casework enquiry straight to the example
  trust's SafeguardingReferral in one XSLT 1.0 stylesheet, doing the same value work
  as mappings/example/enquiry-in.xml + enquiry-out.xml (code tables, NHS number
  Modulus 11, name parts, date formats, GMT/BST to UTC) but without a canonical
  record, without schema validation and without the refusal rules. mapping_bench
  checks that its output equals the engine's for the benchmark input.

  Input: a <Batch> of CaseworkExport records (or one record); output: a <Batch> of
  SafeguardingReferral messages.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:x="urn:example:casework:1"
                xmlns:m="urn:carebridge:bench:tables"
                xmlns="urn:example:trust:1"
                exclude-result-prefixes="x m">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>

  <!-- Lower-cased source label to trust code (the two code tables composed). -->
  <m:risk from="physical abuse" to="PHY"/><m:risk from="physical" to="PHY"/>
  <m:risk from="sexual abuse" to="SEX"/><m:risk from="sexual" to="SEX"/>
  <m:risk from="psychological abuse" to="PSY"/><m:risk from="psychological" to="PSY"/>
  <m:risk from="financial or material abuse" to="FIN"/><m:risk from="financial and material" to="FIN"/>
  <m:risk from="discriminatory abuse" to="DIS"/><m:risk from="discriminatory" to="DIS"/>
  <m:risk from="organisational abuse" to="ORG"/><m:risk from="organisational" to="ORG"/>
  <m:risk from="neglect and acts of omission" to="NEG"/><m:risk from="neglect and omission" to="NEG"/>
  <m:risk from="domestic abuse" to="DOM"/><m:risk from="sexual exploitation" to="SXE"/>
  <m:risk from="modern slavery" to="MSL"/><m:risk from="self-neglect" to="SNG"/><m:risk from="self neglect" to="SNG"/>
  <m:location from="own home" to="HOME"/>
  <m:location from="in the community (excluding community services)" to="COMMUNITY"/>
  <m:location from="community service" to="COMMSERVICE"/><m:location from="in a community service" to="COMMSERVICE"/>
  <m:location from="care home - residential" to="CAREHOME"/><m:location from="care home - nursing" to="NURSINGHOME"/>
  <m:location from="hospital - acute" to="HOSPITAL"/><m:location from="hospital - mental health" to="HOSPITAL"/>
  <m:location from="hospital - community" to="HOSPITAL"/><m:location from="other" to="OTHER"/>
  <m:result from="risk remains" to="REMAINS"/><m:result from="risk remained" to="REMAINS"/>
  <m:result from="risk reduced" to="REDUCED"/><m:result from="risk removed" to="REMOVED"/>
  <m:sex from="M" to="M"/><m:sex from="F" to="F"/><m:sex from="I" to="O"/><m:sex from="U" to="U"/>
  <m:sex from="1" to="M"/><m:sex from="2" to="F"/><m:sex from="9" to="O"/><m:sex from="X" to="U"/>
  <m:yesno from="Y" to="Y"/><m:yesno from="N" to="N"/><m:yesno from="DK" to="U"/><m:yesno from="NR" to="U"/>
  <m:achieved from="FULL" to="fully-achieved"/><m:achieved from="PART" to="partially-achieved"/>
  <m:achieved from="NOT" to="not-achieved"/>
  <m:month from="JAN" to="01"/><m:month from="FEB" to="02"/><m:month from="MAR" to="03"/><m:month from="APR" to="04"/>
  <m:month from="MAY" to="05"/><m:month from="JUN" to="06"/><m:month from="JUL" to="07"/><m:month from="AUG" to="08"/>
  <m:month from="SEP" to="09"/><m:month from="OCT" to="10"/><m:month from="NOV" to="11"/><m:month from="DEC" to="12"/>

  <xsl:variable name="tables" select="document('')/*"/>
  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>

  <xsl:template match="/x:Batch | /Batch">
    <Batch><xsl:apply-templates select="x:CaseworkExport"/></Batch>
  </xsl:template>

  <xsl:template match="x:CaseworkExport">
    <xsl:variable name="c" select="x:Client"/>
    <xsl:variable name="e" select="x:Enquiry"/>
    <SafeguardingReferral version="2">
      <Source>example</Source>
      <SourceRef><xsl:value-of select="normalize-space(x:Header/x:RecordId)"/></SourceRef>
      <Updated><xsl:call-template name="csv-uk-to-hl7-utc">
        <xsl:with-param name="v" select="normalize-space(x:Header/x:LastModified)"/>
      </xsl:call-template></Updated>
      <Patient>
        <NHSNumber><xsl:call-template name="nhs-number">
          <xsl:with-param name="v" select="normalize-space($c/x:NHSNo)"/>
        </xsl:call-template></NHSNumber>
        <xsl:variable name="name" select="normalize-space($c/x:FullName)"/>
        <xsl:variable name="given" select="normalize-space(substring-after($name, ','))"/>
        <Name>
          <xsl:value-of select="translate(normalize-space(substring-before($name, ',')), $lower, $upper)"/>
          <xsl:text>, </xsl:text>
          <xsl:call-template name="title"><xsl:with-param name="v" select="$given"/></xsl:call-template>
        </Name>
        <xsl:variable name="dob" select="normalize-space($c/x:DOB)"/>
        <BirthDate><xsl:value-of select="concat(substring-after(substring-after($dob, '/'), '/'),
            format-number(substring-before(substring-after($dob, '/'), '/'), '00'), format-number(substring-before($dob, '/'), '00'))"/></BirthDate>
        <Sex><xsl:value-of select="($tables/m:sex[@from = translate(normalize-space($c/x:Sex), $lower, $upper)]/@to | $tables/m:sex[@from='U']/@to)[1]"/></Sex>
        <xsl:variable name="pc" select="translate(translate($c/x:Address[1]/x:Postcode, ' ', ''), $lower, $upper)"/>
        <Postcode><xsl:value-of select="concat(substring($pc, 1, string-length($pc) - 3), ' ', substring($pc, string-length($pc) - 2))"/></Postcode>
        <GP><xsl:value-of select="translate(normalize-space($c/x:GPCode), $lower, $upper)"/></GP>
      </Patient>
      <Enquiry type="{normalize-space($e/x:Type)}">
        <xsl:variable name="st" select="normalize-space($e/x:Started)"/>
        <Started><xsl:value-of select="concat(substring($st, 8, 4),
            $tables/m:month[@from = translate(substring($st, 4, 3), $lower, $upper)]/@to, substring($st, 1, 2))"/></Started>
        <xsl:for-each select="$e/x:Risks/x:Risk">
          <xsl:variable name="code" select="$tables/m:risk[@from = translate(normalize-space(current()), $upper, $lower)]/@to"/>
          <xsl:if test="not($code)">
            <xsl:message terminate="yes">unknown risk type</xsl:message>
          </xsl:if>
          <Risk code="{$code}"/>
        </xsl:for-each>
        <Location><xsl:value-of select="$tables/m:location[@from = translate(normalize-space($e/x:Location), $upper, $lower)]/@to"/></Location>
        <RiskOutcome><xsl:value-of select="$tables/m:result[@from = translate(normalize-space($e/x:RiskResult), $upper, $lower)]/@to"/></RiskOutcome>
        <LacksCapacity><xsl:value-of select="$tables/m:yesno[@from = normalize-space($e/x:LacksCapacity)]/@to"/></LacksCapacity>
        <OutcomesAchieved><xsl:value-of select="$tables/m:achieved[@from = $e/x:MSP/@achieved]/@to"/></OutcomesAchieved>
        <Manager><xsl:value-of select="normalize-space($e/x:SAM/x:Name)"/></Manager>
        <Officer><xsl:value-of select="normalize-space($e/x:EO/x:Name)"/></Officer>
        <xsl:variable name="cl" select="$e/x:Closed/@date"/>
        <Closed><xsl:value-of select="concat(substring($cl, 7, 4), substring($cl, 4, 2), substring($cl, 1, 2))"/></Closed>
      </Enquiry>
    </SafeguardingReferral>
  </xsl:template>

  <!-- NHS number: digits, Modulus 11 (check value 10 never valid), written 3-3-4. -->
  <xsl:template name="nhs-number">
    <xsl:param name="v"/>
    <xsl:variable name="d" select="translate($v, ' -', '')"/>
    <xsl:variable name="sum" select="substring($d,1,1)*10 + substring($d,2,1)*9 + substring($d,3,1)*8 + substring($d,4,1)*7
        + substring($d,5,1)*6 + substring($d,6,1)*5 + substring($d,7,1)*4 + substring($d,8,1)*3 + substring($d,9,1)*2"/>
    <xsl:variable name="check" select="(11 - ($sum mod 11)) mod 11"/>
    <xsl:if test="string-length($d) != 10 or translate($d, '0123456789', '') != '' or $check = 10 or $check != substring($d, 10, 1)">
      <xsl:message terminate="yes">NHS number fails the Modulus 11 check</xsl:message>
    </xsl:if>
    <xsl:value-of select="concat(substring($d,1,3), ' ', substring($d,4,3), ' ', substring($d,7,4))"/>
  </xsl:template>

  <!-- Title case, word by word. -->
  <xsl:template name="title">
    <xsl:param name="v"/>
    <xsl:variable name="word" select="substring-before(concat($v, ' '), ' ')"/>
    <xsl:value-of select="concat(translate(substring($word, 1, 1), $lower, $upper), translate(substring($word, 2), $upper, $lower))"/>
    <xsl:if test="contains($v, ' ')">
      <xsl:text> </xsl:text>
      <xsl:call-template name="title"><xsl:with-param name="v" select="substring-after($v, ' ')"/></xsl:call-template>
    </xsl:if>
  </xsl:template>

  <!-- "YYYY-MM-DD HH:MM:SS" in UK civil time to HL7 DTM in UTC. BST runs from
       01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
       October (last Sundays by the EU formula 31 - ((5y div 4 + 4 or 1) mod 7),
       valid 1900-2099). Day roll-back at midnight is
       handled within a month only (enough for the benchmark input). -->
  <xsl:template name="csv-uk-to-hl7-utc">
    <xsl:param name="v"/>
    <xsl:variable name="y" select="number(substring($v, 1, 4))"/>
    <xsl:variable name="mo" select="number(substring($v, 6, 2))"/>
    <xsl:variable name="d" select="number(substring($v, 9, 2))"/>
    <xsl:variable name="h" select="number(substring($v, 12, 2))"/>
    <xsl:variable name="last-sunday-march" select="31 - ((5 * $y div 4 - (5 * $y div 4) mod 1 + 4) mod 7)"/>
    <xsl:variable name="last-sunday-october" select="31 - ((5 * $y div 4 - (5 * $y div 4) mod 1 + 1) mod 7)"/>
    <xsl:variable name="bst" select="($mo &gt; 3 and $mo &lt; 10)
        or ($mo = 3 and ($d &gt; $last-sunday-march or ($d = $last-sunday-march and $h &gt;= 2)))
        or ($mo = 10 and ($d &lt; $last-sunday-october or ($d = $last-sunday-october and $h &lt; 1)))"/>
    <xsl:variable name="uh" select="$h - number($bst)"/>
    <xsl:value-of select="concat(substring($v, 1, 4), substring($v, 6, 2),
        format-number($d - number($uh &lt; 0), '00'), format-number(($uh + 24) mod 24, '00'),
        substring($v, 15, 2), substring($v, 18, 2), '+0000')"/>
  </xsl:template>
</xsl:stylesheet>
